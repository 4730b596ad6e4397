"""What cs-review's page shows of each record, which files it may serve, and the server-side check of an
edit (YouTube's rules, from youtube/metadata.py, the same ones cs-publish applies)."""

from __future__ import annotations

from typing import Any

from . import artifacts
from .youtube import metadata as limits


def _local(path: Any) -> str | None:
    """A local file for PATH (an s3:// object through the cache), or None when it is not there."""
    if not isinstance(path, str) or not path:
        return None
    try:
        if not artifacts.exists(path):
            return None
        return artifacts.local_path(path)
    except Exception:  # a store that cannot be reached: the page shows the record without that file
        return None


def entries(records: list[dict], findings: list[list[dict]]) -> tuple[list[dict], dict[tuple[int, str], str]]:
    """One JSON-ready view per record for the page, and (index, name) -> local path of each file it may
    serve: only the records' own video, thumbnails, shot files and local alternative previews."""
    views, files = [], {}
    for n, (record, found) in enumerate(zip(records, findings)):
        base = f"file/{n}/"
        meta = record.get("meta") if isinstance(record.get("meta"), dict) else {}
        video = record.get("video") if isinstance(record.get("video"), dict) else {}
        view: dict[str, Any] = {
            "n": n, "id": str(record.get("id")), "topic": record.get("topic"),
            "title": meta.get("title") if meta else record.get("title"),
            "meta": {k: meta.get(k) for k in ("title", "description", "tags", "privacy", "publish_at")} if meta else None,
            "limits": {"title": limits.TITLE_MAX_CHARS, "description_bytes": limits.DESCRIPTION_MAX_BYTES,
                       "tags_chars": limits.TAGS_MAX_CHARS},
            "findings": found, "video": None, "thumbs": [], "chosen": None, "script": [], "shots": [],
            "status": (record.get("review") or {}).get("status") if isinstance(record.get("review"), dict) else None,
        }
        local = _local(video.get("path"))
        if local:
            files[(n, "video")] = local
            view["video"] = base + "video"
        thumbs = record.get("thumbs") if isinstance(record.get("thumbs"), list) else []
        chosen = (record.get("thumb") or {}).get("path") if isinstance(record.get("thumb"), dict) else None
        for k, thumb in enumerate(thumbs):
            local = _local(thumb.get("path") if isinstance(thumb, dict) else None)
            files.update({(n, f"thumb/{k}"): local} if local else {})
            view["thumbs"].append(base + f"thumb/{k}" if local else None)
            if isinstance(thumb, dict) and thumb.get("path") == chosen:
                view["chosen"] = k
        script = record.get("script") if isinstance(record.get("script"), dict) else {}
        for segment in script.get("segments") or []:
            if isinstance(segment, dict):
                view["script"].append({"text": segment.get("text"), "on_screen": segment.get("on_screen")})
        for s, shot in enumerate(record.get("visuals") if isinstance(record.get("visuals"), list) else []):
            if isinstance(shot, dict):
                view["shots"].append(_shot(n, s, shot, files))
        views.append(view)
    return views, files


def _shot(n: int, s: int, shot: dict, files: dict) -> dict:
    local = _local(shot.get("path"))
    if local:
        files[(n, f"shot/{s}")] = local
    out = {k: shot.get(k) for k in ("start", "end", "kind", "text", "provider", "author", "license", "url")}
    out.update(frame=f"file/{n}/shot/{s}" if local else None, replace=shot.get("replace"), alternatives=[])
    for a, alternative in enumerate(shot.get("alternatives") if isinstance(shot.get("alternatives"), list) else []):
        if not isinstance(alternative, dict):
            continue
        preview = alternative.get("preview")
        shown = preview if isinstance(preview, str) and preview.startswith("https://") else None
        local = None if shown else _local(preview)
        if local:
            files[(n, f"alt/{s}/{a}")] = local
            shown = f"file/{n}/alt/{s}/{a}"
        out["alternatives"].append({"k": a, "preview": shown, **{k: alternative.get(k) for k in
                                    ("provider", "kind", "author", "license", "url", "asset_id")}})
    return out


def refusals(record: dict, decision: dict) -> list[str]:
    """Why DECISION cannot be taken for RECORD ([] when it can): an edit YouTube would refuse, a thumbnail
    or shot choice that is not one of the record's own."""
    problems = []
    if decision.get("status") not in ("approved", "rejected", "changes", "unreviewed", None):
        problems.append(f"status: {decision.get('status')!r} is not approved, rejected or changes")
    edits = decision.get("edits") or {}
    if not isinstance(edits, dict):
        return problems + ["edits: not an object"]
    meta = record.get("meta") if isinstance(record.get("meta"), dict) else None
    if edits and meta is None:
        problems.append("edits: this record has no meta to edit; run cs-meta first")
    elif edits:
        tags = edits.get("tags", meta.get("tags"))
        if not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
            problems.append("tags: a list of words or phrases, separated by commas")
        merged = {**meta, **{k: v for k, v in edits.items() if k in ("title", "description", "tags")}}
        problems += [p for p in limits.violations(merged) if p.split(":", 1)[0].split("[")[0] in ("title", "description", "tags")]
    thumb = decision.get("thumb")
    thumbs = record.get("thumbs") if isinstance(record.get("thumbs"), list) else []
    if thumb is not None and not (isinstance(thumb, int) and 0 <= thumb < len(thumbs)):
        problems.append(f"thumb: no thumbnail {thumb!r} in this record")
    shots = record.get("visuals") if isinstance(record.get("visuals"), list) else []
    for index, choice in (decision.get("replace") or {}).items():
        n = int(index) if str(index).isdigit() else -1
        alternatives = (shots[n].get("alternatives") or []) if 0 <= n < len(shots) and isinstance(shots[n], dict) else []
        if n < 0 or n >= len(shots) or not (choice == "card" or (isinstance(choice, int) and 0 <= choice < len(alternatives))):
            problems.append(f"visuals[{index}]: no such shot or alternative")
    return problems
