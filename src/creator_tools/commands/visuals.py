"""cs-visuals: a shot list that follows the narration, one picture per spoken sentence, from a chain of providers."""

from __future__ import annotations

import threading
from typing import Any

import click

from .. import log, pipe
from ..core import config
from ..engines.llm import LLMSettings
from ..errors import BadInput, ConfigError, QuotaDeferred, UsageError
from ..records import Record, fingerprint
from ..media.frames import PRESETS, preset_for

# The providers, Pillow, the emoji tables and the shot planner load when a record is processed, so --help
# stays quick; the environment names the options read are copied here.
PROVIDERS_ENV = config.variable("CS_VISUALS")  # engines.visuals.PROVIDERS_ENV (tests/commands/test_visuals.py checks they agree)
LIBRARY_ENV = config.variable("CS_LIBRARY")  # engines.visuals_library.LIBRARY_ENV
IMAGE_MODEL_ENV = config.variable("CS_IMAGE_MODEL")
TERMS_ENV = config.variable("CS_VISUALS_TERMS")


def checked_inputs(record: Record) -> tuple[dict, list[dict], float]:
    """(script, caption words, the voice's measured length). Their shapes were checked by Stage.validate
    against schemas.py; the voice is measured, as cs-render measures it (`duration_s: 1e308` once planned
    shots forever)."""
    from ..media.track import voice_length

    words = record["captions"].get("words")
    if words is None:
        raise BadInput("captions.words is missing; re-run cs-caption --force for this record")
    _, duration = voice_length(record["voice"])
    return record["script"], words, duration


def history_assets(path: str | None, videos: int, record_id: str | None = None) -> list[tuple[str, set[str]]]:
    """(record id, asset ids) of the last VIDEOS records in PATH that carry `visuals` (cards are not kept:
    each is made for its own shot)."""
    if not path:
        return []
    import json
    from collections import deque

    found: deque = deque(maxlen=videos)
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            shots = record.get("visuals") if isinstance(record, dict) else None
            if isinstance(shots, list):
                ids = {s["asset_id"] for s in shots if isinstance(s, dict) and isinstance(s.get("asset_id"), str)
                       and not s["asset_id"].startswith("cards:")}
                found.append((str(record.get("id")), ids))
    return list(found)


class Visuals(pipe.Stage):
    name = "visuals"
    key = "visuals"
    needs = {"script": "cs-script", "voice": "cs-voice", "captions": "cs-caption"}

    def __init__(self, providers: str | None, library: str | None, image_model: str | None, preset: str,
                 min_shot: float, max_shot: float, history: str | None, history_videos: int,
                 fresh_days: float = 30.0, terms: str = "rules", llm: LLMSettings | None = None):
        self.requested = [p.strip() for p in (providers or "").split(",") if p.strip()]
        self.fresh_days, self.terms, self.llm = fresh_days, terms, llm or LLMSettings()
        self.library, self.image_model, self.preset = library, image_model, preset
        self.min_shot, self.max_shot = min_shot, max_shot
        self.history, self.history_videos = history, history_videos
        self.past = history_assets(history, history_videos)
        self._chains: dict[tuple[int, int], list] = {}
        self._lock = threading.Lock()
        self._warned: set[str] = set()
        self.names = self._names()

    # --- the chain of providers -----------------------------------------------------------------------

    def provider_settings(self, width: int, height: int):
        from ..engines.visuals import VisualSettings

        return VisualSettings(library=self.library, image_model=self.image_model, width=width, height=height)

    def _names(self) -> list[str]:
        """--provider / CS_VISUALS, else the default order: library when given, stock APIs whose key is set,
        then cards."""
        from ..engines import visuals

        if self.requested:
            for name in self.requested:
                try:
                    visuals.provider_class(name)  # an unknown name is a usage error now, not at the first record
                except ImportError as exc:
                    raise ConfigError(f"provider '{name}' cannot be loaded ({exc}); reinstall creator-tools "
                                      "(make setup) or choose another --provider") from None
            return self.requested
        settings = self.provider_settings(*PRESETS["short"])
        chosen = []
        for name in visuals.DEFAULT_ORDER:
            try:
                provider = visuals.provider_class(name)
            except ImportError as exc:  # a provider whose module is missing from this install
                if log.debug_enabled():
                    log.info(f"provider {name} not loaded ({exc})")
                continue
            if provider.available(settings):
                chosen.append(name)
        return chosen

    def chain(self, width: int, height: int) -> list:
        """The providers for this frame size, made once and shared by the -j threads (providers are
        thread-safe by contract)."""
        from ..engines import visuals

        with self._lock:
            if (width, height) not in self._chains:
                settings = self.provider_settings(width, height)
                self._chains[(width, height)] = [visuals.provider_class(n)(settings) for n in self.names]
            return self._chains[(width, height)]

    def settings(self) -> dict[str, Any]:
        listing = []
        if "library" in self.names:
            listing = self.chain(*PRESETS["short"])[self.names.index("library")].listing()
        return {"providers": self.names, "library": self.library, "files": listing, "image_model": self.image_model,
                "preset": self.preset, "min_shot": self.min_shot, "max_shot": self.max_shot,
                "history": [self.history, self.history_videos], "fresh_days": self.fresh_days,
                "terms": self.terms, **({"llm": self.llm.fingerprint()} if self.terms == "llm" else {})}

    def inputs(self, record: Record) -> Any:
        return {**super().inputs(record), "format": record.get("format"), "topic": record.get("topic")}

    def artifacts(self, record: Record) -> list[Any]:
        return [shot["path"] for shot in record["visuals"]] or [None]  # each shot's file (or object) still there

    def done(self, record: Record) -> bool:
        """Not done while a shot carries a `replace` chosen in review (cs-visuals then swaps just those)."""
        from ..media import swaps

        return not swaps.wanted(record) and super().done(record)

    def size(self, record: Record) -> tuple[int, int]:
        return PRESETS[preset_for(record, self.preset)]

    def close(self) -> None:
        for chain in self._chains.values():
            for provider in chain:
                provider.close()

    # --- per record -----------------------------------------------------------------------------------

    def plan_shots(self, record: Record) -> list:
        from ..media import shots

        script, words, duration = checked_inputs(record)
        topic = str(record.get("topic") or script.get("title") or "")
        suggest = None
        if self.terms == "llm":
            from ..media import terms

            suggest = lambda sentences, about: terms.ask_llm(self.llm, sentences, about)  # noqa: E731
        return shots.plan(script, words, duration, self.min_shot, self.max_shot, topic, suggest)

    def plan(self, record: Record) -> str:
        planned = self.plan_shots(record)
        lines = [f"would add 'visuals': {len(planned)} shots"]
        for number, shot in enumerate(planned, 1):
            lines.append(f"  shot {number} {shot.start:.2f}-{shot.end:.2f} s {' then '.join(map(repr, shot.queries))}: "
                         "ask " + " then ".join(self.names))
        return "\n".join(lines)

    def process(self, record: Record) -> Record:
        from .. import artifacts
        from ..engines import visuals_used
        from ..engines.visuals import Shot
        from ..media import swaps

        width, height = self.size(record)
        if swaps.wanted(record):
            if swaps.same_inputs(record, self.name, fingerprint(self.inputs(record))):
                swapped = swaps.apply(record, self, width, height)
                visuals_used.remember(str(record["id"]), [str(s.get("asset_id") or "") for s in swapped["visuals"]])
                return swapped
            log.warn(f"record {record['id']}: its script, voice, captions or cs-visuals options changed since its "
                     "shots were made, so they are planned again and the `replace` choices are dropped; run with "
                     "the options of the first run to keep them")
        chain = self.chain(width, height)
        segments = record["script"].get("segments") or []
        topic = str(record.get("topic") or record["script"].get("title") or "")
        past = set().union(*(ids for rid, ids in self.past if rid != str(record.get("id"))))
        past |= visuals_used.recent(self.fresh_days, str(record["id"]))
        used: set[str] = set()
        result, deferred = [], []
        for number, planned in enumerate(self.plan_shots(record)):
            segment = segments[planned.segment] if planned.segment < len(segments) else {}
            context = str(segment.get("visual") or "") if isinstance(segment, dict) else ""
            shot = Shot(planned.start, planned.end, planned.text, planned.query, topic, context, width, height,
                        record_id=str(record["id"]), index=number, heads=planned.heads,
                        language=str(record["script"].get("language") or "en"))
            asset, query, tried = self._find(chain, shot, planned.queries, used | past)
            if asset is None:  # every network provider was rate-limited: come back later
                deferred.append(number + 1)
                continue
            used.add(asset.asset_id)
            keys = asset.shot_keys()
            keys["path"] = artifacts.publish(keys["path"])  # with CS_OUT_DIR=s3://..., the object's URI
            result.append({"start": shot.start, "end": shot.end, "text": shot.text, "query": query, "queries": tried,
                           **keys})
        if deferred:
            limited = ", ".join(p.name for p in chain if p.network)
            raise QuotaDeferred(f"{len(deferred)} of {len(deferred) + len(result)} shots found nothing because "
                                f"{limited} answered 'rate limited'; feed this record back later (downloads are kept)")
        visuals_used.remember(str(record["id"]), [shot["asset_id"] for shot in result])
        return {**record, "visuals": result}

    def _find(self, chain: list, shot, queries: list[str], avoid: set[str]):
        """(asset, the query that found it, the queries tried) for SHOT: per provider, each of QUERIES in turn
        (fewer words, the hint, the topic), then the next provider; assets in AVOID only when no provider has
        another. No asset when every network provider was rate-limited (the shot waits)."""
        tried: list[str] = []
        asset, query, limited = self._ask(chain, shot, queries, avoid, tried)
        if asset is None and not limited:
            asset, query, limited = self._ask(chain, shot, queries, set(), tried)  # a repeat beats a hole
        if asset is None and not limited:
            raise BadInput(f"no provider ({', '.join(self.names)}) found a picture for '{shot.query or shot.text}' "
                           f"at {shot.start:.1f} s; add cards to --provider (e.g. --provider {self.names[0]},cards)")
        return asset, query, tried

    def _ask(self, chain: list, shot, queries: list[str], avoid: set[str], tried: list[str]):
        from dataclasses import replace

        from ..engines.visuals import RateLimited
        from ..errors import EngineError

        network = [p for p in chain if p.network]
        limited: list[str] = []
        for provider in chain:
            if provider.last_resort and network and len(limited) == len(network):
                break  # cards fill what nothing matched, not what a rate limit held back
            for query in (queries or [shot.query]) if not provider.last_resort else [shot.query]:
                if query and query not in tried:
                    tried.append(query)
                try:
                    asset = provider.find(replace(shot, query=query), avoid)
                except RateLimited:
                    limited.append(provider.name)
                    break
                except EngineError as exc:
                    self._warn_once(provider.name, f"{provider.name} failed ({exc.message}); skipping it for this shot")
                    break
                if asset is not None:
                    return asset, query, False
        return None, "", bool(network) and len(limited) == len(network)

    def _warn_once(self, key: str, message: str) -> None:
        with self._lock:
            if key in self._warned:
                return
            self._warned.add(key)
        log.warn(message)


def _provider_list(_ctx, _param, value: str | None) -> str | None:
    if value is not None and not [p for p in value.split(",") if p.strip()]:
        raise click.BadParameter("name at least one provider, e.g. library,cards")
    return value


@pipe.stage_command("visuals")
@click.option("--provider", "providers", envvar=PROVIDERS_ENV, callback=_provider_list, metavar="A,B,...",
              help=f"Providers tried in order per shot, the first that finds something wins: library, pexels, pixabay, "
                   f"images, cards (env {PROVIDERS_ENV}; default: library when given, pexels/pixabay when their key "
                   "is set, then cards).")
@click.option("--library", envvar=LIBRARY_ENV, type=click.Path(exists=True, file_okay=False), metavar="DIR",
              help=f"Folder of stills and clips matched by file name, sidecar .txt and tags.txt (env {LIBRARY_ENV}).")
@click.option("--image-model", envvar=IMAGE_MODEL_ENV, metavar="NAME",
              help=f"Model for the images provider (env {IMAGE_MODEL_ENV}).")
@click.option("--preset", type=click.Choice(["auto", *PRESETS]), default="auto", show_default=True,
              help="Frame size and orientation (as cs-render); auto: short for `format: short`, landscape for `long`.")
@click.option("--min-shot", type=pipe.FiniteRange(0.2, 60), default=1.5, show_default=True,
              help="Shortest shot in seconds (shorter sentences join a neighbour).")
@click.option("--max-shot", type=pipe.FiniteRange(0.4, 600), default=6.0, show_default=True,
              help="Longest shot in seconds (longer sentences are split at word boundaries, after a comma if near).")
@click.option("--history", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
              help="JSONL of past records with `visuals` (e.g. published.jsonl): their assets are avoided while others exist.")
@click.option("--history-videos", type=click.IntRange(1, 100000), default=20, show_default=True,
              help="How many of the last videos in --history to avoid repeating.")
@click.option("--fresh-days", type=pipe.FiniteRange(0, 36500), default=30, show_default=True,
              help="Avoid stock and library assets another video of this CS_OUT_DIR used in the last N days "
                   "(a small ledger beside the search cache; 0: don't).")
@click.option("--terms", type=click.Choice(["rules", "llm"]), envvar=TERMS_ENV, default="rules", show_default=True,
              help=f"Search terms: rules (the sentence's tagged nouns) or llm (one LLM call per script suggests 1-3 "
                   f"per sentence, kept when they share a word with it, its hint or the topic) (env {TERMS_ENV}).")
@pipe.llm_options
def cli(opts, providers, library, image_model, preset, min_shot, max_shot, history, history_videos, fresh_days,
        terms, llm):
    """Pick a picture per spoken sentence: a shot list from a chain of providers.

    \b
    Reads `script`, `voice` (duration_s) and `captions` (words); adds `visuals`: a list of shots
    {start, end, text, query, queries, kind, path, provider, asset_id, url, author, license, synthetic,
    alternatives} that covers the voice from 0 to its end. Shots follow the sentences as they are spoken
    (timed by the caption words): short ones join a neighbour (--min-shot), long ones are split
    (--max-shot). A shot's searches are the concrete nouns of its sentence ("sleepy cat", then "cat"),
    then its segment's `visual` hint, then the topic; `queries` lists those tried, `query` the one that
    found it. Per shot the providers are tried in order: library (a folder), pexels, pixabay (stock APIs:
    PEXELS_API_KEY, PIXABAY_API_KEY), images (an OpenAI-compatible image API), cards (an emoji and the key
    phrase, made offline; the last resort). Answers are ranked by orientation, length and resolution; the
    next 3 are kept as `alternatives`. A shot whose `replace` holds one of them (or {"kind": "card"}, set
    by cs-review) is swapped on the next run, the other shots kept. No asset is used twice in a video, or
    again from the last --history videos or within --fresh-days in this CS_OUT_DIR, while others exist.
    When every stock provider is rate-limited for a shot the record is deferred (exit 4): feed it back
    later. Cards go to cs-out/visuals/; --dry-run says which providers each shot would ask.

    \b
    Example:
      cs-voice < scripts.jsonl | cs-caption | cs-visuals --library stock/ | cs-render > videos.jsonl
      cs-visuals --provider pexels,cards --history published.jsonl -i captioned.jsonl -o shots.jsonl
      cs-visuals --terms llm --engine openai -i captioned.jsonl -o shots.jsonl
      cs-visuals -i reviewed.jsonl -o swapped.jsonl   # swaps the shots whose `replace` is set
    """
    if max_shot < 2 * min_shot:
        raise UsageError(f"--max-shot ({max_shot:g}) must be at least twice --min-shot ({min_shot:g}), so a long "
                         "sentence can always be split into shots that are long enough")
    return Visuals(providers, library, image_model, preset, min_shot, max_shot, history, history_videos, fresh_days,
                   terms, llm)
