"""Swaps chosen in review: a shot whose `replace` is one of its `alternatives` (copied as it is) or
{"kind": "card"} gets just that asset on cs-visuals' next run; the other shots stay as they were, so
cs-render re-renders that record only. The swapped-out asset becomes an alternative in its place.

    jq -c '.visuals[2].replace = .visuals[2].alternatives[0]' shots.jsonl | cs-visuals > swapped.jsonl
"""

from __future__ import annotations

from typing import Any

from ..errors import BadInput


def wanted(record: dict) -> bool:
    """Whether any shot of RECORD carries a `replace`."""
    shots = record.get("visuals")
    return isinstance(shots, list) and any(isinstance(s, dict) and s.get("replace") is not None for s in shots)


def same_inputs(record: dict, stage: str, stamp: str) -> bool:
    """Whether the shot list was made from the record's present inputs (else it is planned again whole: a
    changed script has other sentences). A hand-made list without a stamp counts as current."""
    done = record.get("_inputs")
    stored = done.get(stage) if isinstance(done, dict) else None
    return stored is None or stored == stamp


def apply(record: dict, stage: Any, width: int, height: int) -> dict:
    """RECORD with each shot that has a `replace` swapped for it and `replace` dropped."""
    from .. import artifacts
    from ..engines.visuals import Shot
    from . import terms

    shots = []
    used = {s.get("asset_id") for s in record["visuals"] if isinstance(s, dict)}
    for number, shot in enumerate(record["visuals"]):
        choice = shot.get("replace")
        if choice is None:
            shots.append(shot)
            continue
        where = f"visuals[{number}].replace"
        target = Shot(float(shot.get("start") or 0), float(shot.get("end") or 0), str(shot.get("text") or ""),
                      str(shot.get("query") or ""), str(record.get("topic") or ""), "", width, height,
                      record_id=str(record["id"]), index=number, heads=terms.head_first(str(shot.get("text") or "")))
        asset = _swapped(stage, _checked(choice, shot, where), target, {u for u in used if u != shot.get("asset_id")})
        keys = asset.shot_keys()
        keys["path"] = artifacts.publish(keys["path"])
        keys["alternatives"] = _put_aside(shot, choice)
        kept = {k: shot[k] for k in ("start", "end", "text", "query", "queries") if k in shot}
        shots.append({**kept, **keys})
        used.add(asset.asset_id)
    return {**record, "visuals": shots}


def _checked(choice: Any, shot: dict, where: str) -> dict:
    """CHOICE when it is {"kind": "card"} or one of SHOT's alternatives (by provider and asset id): a link
    or path typed by hand is never fetched."""
    if isinstance(choice, dict) and choice.get("kind") == "card" and not choice.get("asset_id"):
        return {"kind": "card"}
    alternatives = shot.get("alternatives") if isinstance(shot.get("alternatives"), list) else []
    if isinstance(choice, dict):
        for alternative in alternatives:
            if isinstance(alternative, dict) and alternative.get("asset_id") == choice.get("asset_id") \
                    and alternative.get("provider") == choice.get("provider"):
                return alternative
    raise BadInput(f"{where} is neither one of that shot's alternatives nor {{\"kind\": \"card\"}}; copy one of "
                   f"visuals[{where.split('[')[1].split(']')[0]}].alternatives as it is, or remove replace")


def _swapped(stage: Any, choice: dict, shot, used: set[str]):
    from ..engines import visuals

    if choice.get("kind") == "card":
        name = "cards"
    else:
        name = str(choice.get("provider") or "")
        if name not in visuals.provider_names():
            raise BadInput(f"replace names provider {name!r}, which this install lacks; choose another alternative")
    chain = stage.chain(shot.width, shot.height)
    provider = next((p for p in chain if p.name == name), None) or visuals.provider_class(name)(
        stage.provider_settings(shot.width, shot.height))
    if name == "cards":
        return provider.find(shot, used)
    return provider.fetch(choice, shot)


def _put_aside(shot: dict, choice: dict) -> list[dict]:
    """The shot's alternatives without the one swapped in, with the swapped-out asset in its place."""
    alternatives = [a for a in shot.get("alternatives") or [] if isinstance(a, dict)
                    and a.get("asset_id") != choice.get("asset_id")]
    if shot.get("kind") in ("clip", "still") and shot.get("asset_id"):
        alternatives.insert(0, {"provider": shot.get("provider"), "asset_id": shot.get("asset_id"),
                                "kind": shot.get("kind"), "url": shot.get("url") or "", "link": shot.get("path"),
                                "preview": shot.get("path") if shot.get("kind") == "still" else "",
                                "author": shot.get("author") or "", "license": shot.get("license") or "",
                                "duration_s": shot.get("duration_s")})
    return alternatives
