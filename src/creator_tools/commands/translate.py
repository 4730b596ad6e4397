"""cs-translate: a record's title, description, tags and captions in other languages (or a dubbed record per language)."""

from __future__ import annotations

from typing import Any

import click

from .. import checks, languages, log, pipe, text
from ..engines.llm import InvalidReply, LLMSettings, get_llm
from ..errors import BadInput, UsageError
from ..records import Record
from ..youtube import metadata as limits

SYSTEM = ("You translate YouTube video text. Keep the meaning, the tone and any names; write natural {language}. "
          "Reply with the translation only: no notes, no quotes, no original text.")
META_SYSTEM = ("You translate YouTube metadata into {language}. Reply as JSON: title (under 70 characters), "
               "tags (the same search phrases, translated).")
META_SCHEMA = {
    "type": "object",
    "properties": {"title": {"type": "string", "minLength": 3, "maxLength": 100},
                   "tags": {"type": "array", "items": {"type": "string", "minLength": 2, "maxLength": 40}, "maxItems": 15}},
    "required": ["title", "tags"],
}
# Dropped from a dubbed record: what the rest of the pipeline makes again for the new language.
DOWNSTREAM = ("voice", "captions", "visuals", "video", "thumbs", "thumb", "meta", "translations", "review",
              "youtube", "stats", "dubs", "_inputs")


class Translate(pipe.Stage):
    name = "translate"
    key = "translations"
    needs = {"meta": "cs-meta"}
    reads = {"captions": ("srt", "language"), "script": ("language",)}

    def __init__(self, targets: list[str], dub: bool, llm: LLMSettings):
        self.targets, self.dub, self.llm = targets, dub, llm
        if dub:  # a dub translates the script and leaves metadata to cs-meta in the new language
            self.key, self.needs, self.reads = "dubs", {"script": "cs-script"}, {}

    def settings(self) -> dict[str, Any]:
        return {"to": self.targets, "dub": self.dub, "llm": self.llm.fingerprint()}

    def inputs(self, record: Record) -> Any:
        keys = ("script", "id") if self.dub else ("meta", "captions", "script")
        return {"record": {k: record.get(k) for k in keys}, "settings": self.settings()}

    def artifacts(self, record: Record) -> list[str]:
        if self.dub:
            return []
        return [entry[kind] for entry in record["translations"].values() for kind in ("srt", "vtt") if entry.get(kind)]

    def plan(self, record: Record) -> str:
        what = "the script (one dubbed record per language)" if self.dub else "title, description, tags and captions"
        return f"would translate {what} into {', '.join(self.targets)}"

    def process(self, record: Record) -> Record | list[Record]:
        source = source_language(record)
        targets = [t for t in self.targets if languages.base(t) != languages.base(source)]
        if len(targets) < len(self.targets):
            log.info(f"record {record['id']}: already in {source}; not translated into it")
        translator = Translator(get_llm(self.llm), source)
        if self.dub:
            if record.get("dubbed_from"):
                return record  # a dub is not dubbed again when the pipeline's output is fed back in
            dubs = [dubbed(record, target, translator) for target in targets]
            return [{**record, "dubs": {d["script"]["language"]: d["id"] for d in dubs}}, *dubs]
        found = {}
        for target in targets:
            found[target] = self.localized(record, target, translator)
        return {**record, "translations": {**(record.get("translations") or {}), **found}}

    def localized(self, record: Record, target: str, translator: Translator) -> dict:
        """{title, description, tags[, srt, vtt]} in TARGET, within YouTube's limits."""
        from .. import artifacts
        from ..media import subtitles

        meta = record["meta"]
        entry = translator.meta(meta, target)
        # Checked like cs-meta's own output: YouTube's rules, then the content checks on the translated text.
        problems = [p for p in limits.violations({**meta, **entry}) if p.startswith(("title", "description", "tags"))]
        blocks = checks.blocking(checks.run({"meta": {**meta, **entry, "language": target}}, prefix="meta."))
        if problems or blocks:
            reason = problems[0] if problems else checks.describe(blocks, 1)
            raise BadInput(f"the {target} translation breaks a rule ({reason}); try another --seed or a larger --model")
        captions = record.get("captions") if isinstance(record.get("captions"), dict) else {}
        if captions.get("srt"):
            cues = subtitles.read_srt(artifacts.local_path(captions["srt"]))
            translated = [(start, end, translator.line(cue, target)) for start, end, cue in cues]
            inputs = {**self.inputs(record), "language": target}
            paths = {kind: artifacts.artifact_path("translations", record["id"], inputs, f".{target}.{kind}")
                     for kind in ("srt", "vtt")}
            subtitles.write_cues(translated, paths["srt"], paths["vtt"])
            entry.update({kind: artifacts.publish(path) for kind, path in paths.items()})
        return entry


def source_language(record: Record) -> str:
    for key in ("script", "meta", "captions"):
        value = record.get(key)
        if isinstance(value, dict) and isinstance(value.get("language"), str) and value["language"]:
            return value["language"]
    return languages.DEFAULT


class Translator:
    """The LLM asked for one piece at a time: a caption cue, a paragraph, a title with its tags."""

    def __init__(self, llm, source: str):
        self.llm, self.source, self.calls = llm, source, 0

    def line(self, value: str, target: str, limit: int | None = None) -> str:
        """VALUE in TARGET; lines stay lines (a two-line cue stays two lines)."""
        out = []
        for part in value.split("\n"):
            if not part.strip():
                out.append(part)
                continue
            self.calls += 1
            reply = self.llm.text(SYSTEM.format(language=languages.name(target)),
                                  f"Translate from {languages.name(self.source)} into {languages.name(target)}:\n{part}",
                                  max_tokens=24 + len(part) // 2, seed_offset=self.calls)  # ~3 characters a token
            out.append(first_line(reply) or part)
        joined = "\n".join(out)
        return text.truncate(joined, limit) if limit else joined

    def meta(self, meta: dict, target: str) -> dict:
        """Title, description and tags of META in TARGET, repaired to YouTube's limits like cs-meta's own."""
        spoken = languages.name(target)
        title, tags = "", []
        try:
            reply = self.llm.json(META_SYSTEM.format(language=spoken),
                                  f"Title: {meta.get('title', '')}\nTags: {', '.join(meta.get('tags') or [])}",
                                  META_SCHEMA, max_tokens=120, attempts=2)
            title, tags = reply["title"], reply["tags"]
            if text.clean(title).casefold() == text.clean(str(meta.get("title") or "")).casefold():
                title = ""  # the model copied the title instead of translating it: ask for it on its own
        except InvalidReply as exc:  # a small model misses the schema: translate each piece as plain text
            log.info(f"{exc.message}; translating the title and tags one by one")
        title = limits.fit_title(limits.strip_brackets(text.clean(title or self.line(str(meta.get("title") or ""), target))))
        if not tags and meta.get("tags"):
            tags = [self.line(tag, target) for tag in meta["tags"][:8]]
        tags = limits.fit_tags(t for t in map(text.repair_tag, tags) if t)
        description = "\n\n".join(self.paragraph(p, target) for p in str(meta.get("description") or "").split("\n\n"))
        return {"title": title or str(meta.get("title") or ""), "tags": tags,
                "description": limits.fit_bytes(limits.strip_brackets(description), limits.DESCRIPTION_MAX_BYTES)}

    def paragraph(self, value: str, target: str) -> str:
        """A description paragraph in TARGET: chapter lines keep their times, hashtag lines stay as they are."""
        lines = value.split("\n")
        if all(line.lstrip().startswith("#") for line in lines if line.strip()):
            return value
        if all(_chapter(line) for line in lines if line.strip()):
            return "\n".join(f"{stamp} {self.line(title, target, 100)}" for stamp, title in map(_chapter, lines))
        return self.line(value, target)


def _chapter(line: str) -> tuple[str, str] | None:
    import re

    match = re.match(r"^\s*(\d{1,2}(?::\d{2}){1,2})\s+(.+)$", line)
    return (match.group(1), match.group(2)) if match else None


def first_line(reply: str) -> str:
    """The model's translation without the quotes, labels or second thoughts a small model adds."""
    for line in reply.splitlines():
        line = text.clean(line)
        if line and not line.endswith(":"):
            return line
    return ""


def dubbed(record: Record, target: str, translator: Translator) -> Record:
    """A new record ID-TARGET with the script in TARGET, for cs-voice, cs-caption, cs-visuals, cs-render."""
    from ..engines import tts

    script = record["script"]
    segments = [{**segment, "text": translator.line(str(segment.get("text") or ""), target),
                 "on_screen": translator.line(str(segment.get("on_screen") or ""), target, 40)}
                for segment in script["segments"]]
    new_script = {**script, "language": target, "segments": segments,
                  "title": translator.line(str(script.get("title") or record.get("title") or ""), target, 100),
                  "cta": translator.line(str(script.get("cta") or ""), target) if script.get("cta") else ""}
    new_script["wpm"] = tts.rate_for(str(script.get("voice_engine") or tts.DEFAULT_ENGINE), target)
    if languages.spaceless(target):
        new_script["rate_unit"] = "characters"
    else:
        new_script.pop("rate_unit", None)
    kept = {k: v for k, v in record.items() if k not in DOWNSTREAM and k != "id"}
    return {**kept, "id": f"{record['id']}-{target}", "title": new_script["title"], "language": target,
            "script": new_script, "dubbed_from": record["id"]}


def _targets(_ctx, _param, value: str) -> list[str]:
    found = []
    for part in (value or "").split(","):
        if part.strip():
            try:
                found.append(languages.canonical(part.strip()))
            except UsageError as exc:
                raise click.BadParameter(exc.message.replace("--language", "--to")) from None
    if not found:
        raise click.BadParameter("give one or more language tags, e.g. --to es,de,ja")
    return list(dict.fromkeys(found))


@pipe.stage_command("translate")
@click.option("--to", "targets", required=True, callback=_targets, metavar="LANG[,LANG...]",
              help="BCP-47 languages to translate into, e.g. es,de,ja,pt-BR.")
@click.option("--dub", is_flag=True,
              help="Instead of localizations, emit one new record per language (id ID-LANG, script.language LANG, "
                   "the script translated, dubbed_from: ID) for cs-voice ... cs-render: a dubbed video each.")
@pipe.llm_options
def cli(opts: pipe.PipeOptions, targets: list[str], dub: bool, llm: LLMSettings) -> pipe.Stage:
    """Translate a record's title, description, tags and captions (YouTube localizations).

    \b
    Reads `meta` (cs-meta) and `captions.srt` (cs-caption); adds
      translations = {LANG: {title, description, tags, srt, vtt}}
    which cs-publish sends as the video's localizations and extra caption tracks.
    Captions are translated cue by cue: every cue keeps its start and end time.
    Title, description and tags are kept within YouTube's limits, as cs-meta's are.
    With --dub: reads `script`; passes the record on (with dubs: {LANG: id}) followed
    by one new record per language, which the rest of the pipeline voices and renders.

    \b
    The LLM engine translates (--engine openai with OPENAI_BASE_URL for any
    OpenAI-compatible server). The bundled local model is tiny and weak at
    translation: use it to try the pipeline, a real model for what you publish.

    \b
    Examples:
      cs-meta --privacy private < videos.jsonl | cs-translate --to es,de | cs-publish
      cs-translate --to ja --engine openai --model gpt-4o-mini -i meta.jsonl -o localized.jsonl
      cs-script < ideas.jsonl | cs-translate --dub --to es | cs-voice | cs-caption | cs-visuals | cs-render
    """
    return Translate(targets, dub, llm)
