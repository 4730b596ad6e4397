"""cs-meta: script -> YouTube title, description, tags, chapters and publishing settings."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from .. import checks, documents, languages, log, pipe, text
from ..youtube import metadata as limits
from ..engines.llm import InvalidReply, LLMSettings, get_llm
from ..errors import BadInput, EngineError, ExitStatus, MissingInput, UsageError
from ..records import Record

NAME = "meta"
SYSTEM = ("You write YouTube metadata. Reply as JSON: title (catchy, under 70 characters, no quotes), "
          "description (two or three plain sentences saying what the viewer learns), tags (five to ten search "
          "phrases of one to three words).")
EXAMPLES = [
    ("Topic: sourdough bread\nTitle: Sourdough Mistakes Every Beginner Makes\nNarration: Your sourdough is flat "
     "because of one step you probably skip. Feed your starter the night before...",
     '{"title": "5 Sourdough Mistakes That Keep Your Bread Flat", "description": "Flat, dense sourdough usually '
     'comes down to a few habits. See how to time your starter, shape with tension and bake hot so your next '
     'loaf rises.", "tags": ["sourdough", "sourdough bread", "sourdough starter", "bread baking", "beginner baking"]}'),
]
EXAMPLE_TITLE = "5 Sourdough Mistakes That Keep Your Bread Flat"
SCHEMA = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "minLength": 8, "maxLength": 100},
        "description": {"type": "string", "minLength": 30, "maxLength": 700},
        "tags": {"type": "array", "items": {"type": "string", "minLength": 2, "maxLength": 40},
                 "minItems": 3, "maxItems": 12},
    },
    "required": ["title", "description", "tags"],
}
TRIES = 3  # answers asked for while what cs-meta wrote has a block finding (the content checks)
PLACEHOLDER_TAGS = {"tag", "tags", "keyword", "keywords", "youtube", "video", "string", "title", "narration"}
# Words too vague to be tags on their own (text.STOPWORDS already drops the shortest fillers), and the
# words titles are padded with ("The Ultimate Guide to Home Espresso: Best Tips" tagged "ultimate", "guide").
VAGUE = frozenset("about after again before being from have into just like more most much never nobody only "
                  "over really should some than that their them then there these they thing things this those "
                  "very what when where which while will with without would your "
                  "best better easy great guide hacks home ideas perfect quick reasons secret secrets simple "
                  "tips tricks ultimate ways".split())


class Violations(BadInput):
    """--check found a record whose meta YouTube would refuse."""

    exit_status = ExitStatus.RECORD_ERRORS


class Meta(pipe.Stage):
    name = NAME
    key = "meta"
    needs = {"script": "cs-script"}

    def __init__(self, *, category: str, privacy: str, publish_at: str | None, made_for_kids: bool,
                 synthetic: bool | None, playlist: str | None, language: str | None, llm: LLMSettings,
                 check_only: bool = False):
        self.category, self.privacy, self.publish_at = category, privacy, publish_at
        self.made_for_kids, self.synthetic, self.playlist, self.language = made_for_kids, synthetic, playlist, language
        self.llm = llm
        self.check_only = check_only
        if check_only:  # --check reads meta and adds nothing: never "done", never stamped
            self.key, self.needs = None, {"meta": "cs-meta"}

    def settings(self) -> dict[str, Any]:
        # publish_at as typed: "+2d" names the same work on a re-run; it is resolved when the record is done.
        return {"category": self.category, "privacy": self.privacy, "publish_at": self.publish_at,
                "made_for_kids": self.made_for_kids, "synthetic": self.synthetic, "playlist": self.playlist,
                "language": self.language, "llm": self.llm.fingerprint()}

    def inputs(self, record: Record) -> Any:
        voice = record.get("voice") if isinstance(record.get("voice"), dict) else {}
        video = record.get("video") if isinstance(record.get("video"), dict) else {}
        return {"script": record.get("script"), "concept": {k: record.get(k) for k in ("topic", "title", "hook", "format")},
                "voice": {k: voice.get(k) for k in ("engine", "duration_s", "segments")},
                "video": {k: video.get(k) for k in ("duration_s",)},
                "visuals": _shots(record),
                "captions": (record.get("captions") or {}).get("language") if isinstance(record.get("captions"), dict) else None,
                "settings": self.settings()}

    def validate(self, record: Record, require: bool = True) -> None:
        if self.check_only:  # --check names every violation of `meta` itself (verify), not the shape's first
            if require and "meta" not in record:
                raise MissingInput("meta", "cs-meta")
            return
        super().validate(record, require)

    def check(self, record: Record) -> None:
        super().check(record)
        if self.check_only:
            meta = record["meta"]
            if not isinstance(meta, dict):
                raise BadInput(f"'meta' is {type(meta).__name__} {text.truncate(repr(meta), 40)}, not an object "
                               "of title, description, tags...; run cs-meta --force on this record")
            return
        script = record["script"]
        if not isinstance(script, dict) or not isinstance(script.get("segments"), list):
            raise BadInput("'script' has no segments list; re-run cs-script --force for this record")

    def plan(self, record: Record) -> str:
        if self.check_only:
            return "would check meta against YouTube's limits"
        return f"would ask the {self.llm.resolved().engine} LLM for title, description and tags"

    def process(self, record: Record) -> Record:
        if self.check_only:
            return self.verify(record)
        script = record["script"]
        segments = [s for s in script["segments"] if isinstance(s, dict)]
        narration = " ".join(str(s.get("text") or "") for s in segments).strip()
        topic = str(record.get("topic") or record.get("title") or script.get("title") or "")
        base_title = str(script.get("title") or record.get("title") or topic)
        for attempt in range(TRIES):
            written = self._write(record, topic, base_title, narration, seed_offset=attempt * 7)
            title, description, chapters, tags = self._compose(record, script, segments, narration, topic, base_title,
                                                               written)
            draft = {"title": title, "description": description, "tags": tags}
            blocks = checks.blocking(checks.run({"meta": draft}, prefix="meta."))
            if not blocks:
                break
            log.info(f"record {record.get('id')}: metadata draft {attempt + 1} has {checks.describe(blocks, 1)}; asking again")
        else:
            raise EngineError(f"every metadata draft had a block finding ({checks.describe(blocks)}); "
                              "try another --seed or a larger --model")

        publish_at = self._publish_at()
        meta = {
            "title": title, "description": description, "tags": tags, "chapters": chapters,
            "category_id": self.category, "language": self._language(record, script),
            "privacy": self.privacy, "publish_at": publish_at, "made_for_kids": self.made_for_kids,
            "synthetic_media": self._synthetic(record), "playlist": self.playlist,
        }
        problems = limits.violations(meta, duration_s=_duration(record))
        if problems:  # the repairs above should make this impossible; say so rather than pass bad metadata
            raise EngineError(f"generated metadata still breaks a YouTube rule ({problems[0]}); "
                              "please report this with the record")
        return {**record, "meta": meta}

    def _compose(self, record: Record, script: dict, segments: list[dict], narration: str, topic: str,
                 base_title: str, written: dict) -> tuple[str, str, list[dict], list[str]]:
        """Title, description, chapters and tags from the model's answer, repaired to YouTube's rules."""
        title = self._title(written.get("title"), topic, base_title, record)
        paragraph = self._paragraph(written.get("description"), topic, base_title, record, narration)
        tags = self._tags(written.get("tags"), topic, title, base_title, narration, self._language(record, script))
        chapters = self._chapters(record, segments)
        hashtags = self._hashtags(topic, title, tags)

        tail = []
        credits = _credits(record)
        if credits:
            tail.append(credits)
        if chapters:
            tail.append("\n".join(limits.chapter_lines(chapters)))
        cta = text.truncate(text.clean(str(script.get("cta") or "")), 300)
        if cta:
            tail.append(limits.strip_brackets(cta))
        if hashtags:
            tail.append(" ".join(hashtags))
        tail_text = "\n\n".join(tail)
        room = limits.DESCRIPTION_MAX_BYTES - len(tail_text.encode("utf-8")) - 2
        if room < 200 and credits:  # credits are owed before chapters and hashtags: keep them, cut those
            tail_text = limits.fit_bytes(credits, limits.DESCRIPTION_MAX_BYTES - 400)
            room = limits.DESCRIPTION_MAX_BYTES - len(tail_text.encode("utf-8")) - 2
            chapters = []
        description = "\n\n".join(p for p in [limits.fit_bytes(paragraph, room), tail_text] if p)
        return title, description, chapters, tags

    def verify(self, record: Record) -> Record:
        """--check: every violation of this record's meta in one error; the record passes through unchanged."""
        problems = limits.violations(record["meta"], now=dt.datetime.now(dt.timezone.utc),
                                     duration_s=_duration(record))
        if problems:
            raise Violations("meta breaks YouTube's rules: " + "; ".join(f"meta.{p}" for p in problems)
                             + " (fix it or re-run cs-meta --force)")
        return record

    # --- writing with the LLM, then repairing -----------------------------------------------------------

    def _write(self, record: Record, topic: str, title: str, narration: str, seed_offset: int = 0) -> dict:
        prompt = f"Topic: {topic}\nTitle: {title}\nNarration: {text.truncate(narration, 600)}"
        language = self._language(record, record["script"])
        if not language.lower().startswith("en"):  # metadata in the script's language, not English
            prompt += f"\nWrite the title, description and tags in {languages.name(language)}."
        engine = get_llm(self.llm, language)  # loaded on first use, once per process
        if engine.writes_documents and documents.template(language) is not None:
            # a base model continues a metadata block (labelled lines); the title stays the concept's
            reply = engine.continue_document(documents.metadata_document(language, topic, title), max_tokens=160,
                                             stop=["\n\n"], seed_offset=seed_offset)
            return documents.parse_metadata(language, documents.plain(reply))
        try:
            reply = engine.json(SYSTEM, prompt, SCHEMA, max_tokens=300, examples=EXAMPLES, seed_offset=seed_offset)
        except InvalidReply as exc:  # a model that answered badly is worked around; a failing server stays an error
            log.warn(f"record {record.get('id')}: {exc.message}; using the script's own words")
            return {}
        return reply if isinstance(reply, dict) else {}

    def _title(self, written: Any, topic: str, base_title: str, record: Record) -> str:
        raw = limits.strip_brackets(text.clean(str(written or "")))
        if len(raw) > limits.TITLE_MAX_CHARS and 0 < len(base_title) <= limits.TITLE_MAX_CHARS:
            raw = ""  # the concept's own title fits: better than the model's title cut short
        candidate = limits.fit_title(raw)
        if (_usable(candidate, topic + " " + base_title, words=3) and not text.near_duplicate(candidate, EXAMPLE_TITLE)
                and text.real_words(candidate, _vocabulary(record, topic, base_title))):
            return candidate
        if written:
            log.info(f"record {record.get('id')}: model title {candidate!r} unusable; using the script's title")
        for fallback in (base_title, record.get("title"), topic):
            title = limits.fit_title(text.clean(str(fallback or "")))
            if title:
                return title
        raise BadInput("no title anywhere in the record (script.title, title, topic); re-run cs-script --force")

    def _paragraph(self, written: Any, topic: str, base_title: str, record: Record, narration: str) -> str:
        """The hook first (it is what search results show), then the model's paragraph, or the narration's
        first sentences when the model's words are unusable."""
        hook = text.clean(text.unlisted(str(record.get("hook") or "")))
        candidate = limits.strip_brackets(text.clean(str(written or "")))
        if _usable(candidate, topic + " " + base_title, words=8):
            body = [candidate]
        else:
            if written:
                log.info(f"record {record.get('id')}: model description unusable; using the narration")
            body = text.sentences(narration)[:3]
        paragraph = text.unique_sentences(" ".join(s for s in [hook] + body if s))  # never a sentence twice
        return limits.strip_brackets(text.truncate(paragraph, 1500) or base_title)

    def _tags(self, written: Any, topic: str, title: str, base_title: str, narration: str,
              language: str = "en") -> list[str]:
        context = f"{topic} {title} {base_title} {narration}"
        # A tag is made of the video's own words (a system word list would let an off-topic "sourdough" in);
        # filler words are the script's language's: English ones would cut Spanish tags ("come", "once").
        vocabulary = text.stems(context, shortest=1) | text.stopwords(language)
        model = [text.repair_tag(t) for t in written if isinstance(t, str)] if isinstance(written, list) else []
        model = [t for t in model if t and _usable(t, context, words=1) and t.casefold() not in PLACEHOLDER_TAGS
                 and len(t.split()) <= 4 and not t.isdigit() and text.real_words(t, vocabulary)
                 and not all(_vague(w, language) for w in t.casefold().split())]
        # the words as written ("café", not title_key's accentless "cafe"), filler and vague ones left out
        content = [w for w in text.words(f"{topic} {base_title} {title}".casefold())
                   if len(w) > 3 and not _vague(w, language)]
        deterministic = [topic, base_title if len(base_title) <= 40 else ""] + content
        return limits.fit_tags(t for t in map(text.repair_tag, [topic] + model + deterministic) if t)

    def _hashtags(self, topic: str, title: str, tags: list[str]) -> list[str]:
        """Up to three: the topic, then the longest one-word tags about the topic or title (YouTube shows
        the first three above the title)."""
        words = sorted((t for t in tags if " " not in t and text.shares_word(t, f"{topic} {title}")),
                       key=len, reverse=True)
        return [h for h in dict.fromkeys(limits.hashtag(t) for t in [topic, *words]) if h][:3]

    def _chapters(self, record: Record, segments: list[dict]) -> list[dict]:
        if record.get("format") == "short":
            return []  # Shorts show no chapters
        voice = record.get("voice") if isinstance(record.get("voice"), dict) else {}
        spans = []
        for span in voice.get("segments") or []:
            if isinstance(span, dict) and isinstance(span.get("start"), (int, float)):
                spans.append((float(span["start"]), float(span.get("end") or span["start"])))
        if not spans:
            return []
        titles = []
        for segment in segments[:len(spans)]:
            label = text.phrase(text.clean(str(segment.get("on_screen") or "")), 50) or text.phrase(
                text.clean(str(segment.get("text") or "")), 50)
            titles.append(limits.strip_brackets(label) or f"Part {len(titles) + 1}")
        return limits.build_chapters(spans, titles, _duration(record) or spans[-1][1])

    def _language(self, record: Record, script: dict) -> str:
        captions = record.get("captions") if isinstance(record.get("captions"), dict) else {}
        for value in (self.language, script.get("language"), captions.get("language"), "en"):
            if isinstance(value, str) and limits.LANGUAGE.match(value):
                return value
        return "en"

    def _synthetic(self, record: Record) -> bool:
        """YouTube's altered or synthetic content setting: true exactly when a shot in `visuals` is a generated
        realistic image (stock, library footage and emoji cards are not; a narrator's TTS voice that imitates
        nobody is not what the setting asks about). `--synthetic-media/--no-synthetic-media` overrides it."""
        if self.synthetic is not None:
            return self.synthetic
        return any(shot.get("synthetic") is True for shot in _shots(record))

    def _publish_at(self) -> str | None:
        if not self.publish_at:
            return None
        when = limits.resolve_time(self.publish_at)
        if when <= dt.datetime.now(dt.timezone.utc):
            raise UsageError(f"--publish-at {self.publish_at} is now in the past ({limits.rfc3339(when)}); "
                             "give a future time")
        return limits.rfc3339(when)


def _vague(word: str, language: str) -> bool:
    """WORD (lower case) says nothing as a tag: a filler word of LANGUAGE or one of VAGUE."""
    return word in VAGUE or not text.title_key(word, language)


def _usable(candidate: str, context: str, *, words: int) -> bool:
    """Model text worth keeping: enough words, mostly not repeated, and about the video."""
    found = text.words(candidate)
    if len(found) < words or not any(c.isalpha() for c in candidate):
        return False
    if len(found) >= 6 and len({w.casefold() for w in found}) / len(found) < 0.5:
        return False  # "the best the best the best ..."
    return text.shares_word(candidate, context)


PROVIDERS = {"pexels": "Pexels", "pixabay": "Pixabay"}  # stock sites that ask for a credit line


def _shots(record: Record) -> list[dict]:
    visuals = record.get("visuals")
    return [shot for shot in visuals if isinstance(shot, dict)] if isinstance(visuals, list) else []


def _credits(record: Record) -> str:
    """"Video by NAME on Pexels" / "Photo by NAME on Pixabay" for each stock asset shown, once each, in
    order of appearance; "" when no shot came from a stock site."""
    lines = []
    for shot in _shots(record):
        site = PROVIDERS.get(str(shot.get("provider") or "").lower())
        author = limits.strip_brackets(text.clean(str(shot.get("author") or "")))
        if not site:
            continue
        what = "Video" if shot.get("kind") == "clip" else "Photo"
        lines.append(f"{what} by {author} on {site}" if author else f"{what} from {site}")
    lines = list(dict.fromkeys(lines))
    return "Credits:\n" + "\n".join(lines) if lines else ""


def _vocabulary(record: Record, *extra: str) -> set[str]:
    script = record.get("script") if isinstance(record.get("script"), dict) else {}
    said = " ".join(str(s.get("text") or "") for s in script.get("segments") or [] if isinstance(s, dict))
    context = " ".join(str(v) for v in (record.get("topic"), record.get("title"), record.get("hook"), said, *extra) if v)
    return text.stems(context, shortest=1) | text.dictionary() | text.STOPWORDS | text.DANGLING


def _duration(record: Record) -> float | None:
    for key in ("video", "voice"):
        value = record.get(key)
        if isinstance(value, dict) and isinstance(value.get("duration_s"), (int, float)) and value["duration_s"] > 0:
            return float(value["duration_s"])
    return None


def _category(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        return limits.category_id(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _when(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        when = limits.resolve_time(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if when <= dt.datetime.now(dt.timezone.utc):
        resolved = "" if limits.rfc3339(when) == value else f" ({limits.rfc3339(when)})"
        raise click.BadParameter(f"{value}{resolved} is in the past; YouTube can only schedule a future time")
    return value


@pipe.stage_command(NAME)
@click.option("--category", default=limits.DEFAULT_CATEGORY, show_default=True, callback=_category, metavar="ID|NAME",
              help="YouTube category: a number or a name (education, howto, science, people, ...).")
@click.option("--privacy", type=click.Choice(limits.PRIVACY), default="private", show_default=True,
              help="Visibility after upload.")
@click.option("--publish-at", callback=_when, metavar="TIME",
              help="Schedule: RFC 3339 (2030-05-01T17:00:00Z), +2d, +6h, or 'tomorrow 17:00' (local time). "
                   "Needs --privacy private.")
@click.option("--made-for-kids", is_flag=True, help="Declare the video made for kids (default: not made for kids).")
@click.option("--synthetic-media/--no-synthetic-media", "synthetic", default=None,
              help="Declare altered or synthetic content. Default: yes exactly when a shot in `visuals` is a "
                   "generated image (cs-visuals --provider images).")
@click.option("--playlist", metavar="NAME|ID", help="Playlist for cs-publish to add the video to.")
@click.option("--language", metavar="CODE", help="Language code (en, pt-BR). Default: the script's.")
@click.option("--check", is_flag=True, help="Only check existing meta: each record passes through unchanged; one "
              "whose meta breaks a rule is a record error listing every violation (exit 3; -k checks them all).")
@pipe.llm_options
def cli(opts: pipe.PipeOptions, category: str, privacy: str, publish_at: str | None, made_for_kids: bool,
        synthetic: bool | None, playlist: str | None, language: str | None, check: bool, llm: LLMSettings) -> pipe.Stage:
    """Script -> YouTube title, description, tags, chapters and publishing settings.

    The LLM writes the title, a description paragraph and tags; the result is then made to fit YouTube
    (title <= 100 characters, description <= 5000 bytes, tags <= 500 as YouTube counts them, no < or >),
    falling back to the script's own words when the model's are unusable. Chapters (first at 0:00, at least
    3, each >= 10 s) come from the voice's segment times when the video is long enough.

    \b
    Reads:  script (cs-script); voice.segments, video.duration_s, captions.language, topic, hook, visuals
            when present (stock shots get a credit line: "Video by NAME on Pexels")
    Adds:   meta {title, description, tags, chapters, category_id, language, privacy, publish_at,
                  made_for_kids, synthetic_media, playlist}

    \b
    Examples:
      cs-render < voiced.jsonl | cs-meta --category education --publish-at "tomorrow 17:00" > ready.jsonl
      cs-meta --check -k -i ready.jsonl > /dev/null   # every violation on stderr, exit 3 if any
    """
    if language is not None and not limits.LANGUAGE.match(language):
        raise UsageError(f"--language {language!r} is not a language code; use one like en or pt-BR")
    if publish_at and privacy != "private":
        raise UsageError(f"--publish-at needs --privacy private (YouTube makes a scheduled private video "
                         f"public at that time), not {privacy}")
    return Meta(category=category, privacy=privacy, publish_at=publish_at, made_for_kids=made_for_kids,
                synthetic=synthetic, playlist=playlist, language=language, llm=llm, check_only=check)
