"""cs-idea: topic -> video concepts."""

from __future__ import annotations

import re
import threading
from typing import Any, Iterable

import click

from .. import checks, documents, languages, log, pipe, text
from ..engines.llm import LLMSettings, get_llm
from ..errors import BadInput, EngineError, UsageError
from ..records import Record, new_id, read_items

SYSTEM = ("You are a YouTube strategist. Reply with one video concept as JSON: title (catchy, under 70 "
          "characters), hook (the first sentence spoken), angle (what makes the video different), audience "
          "(who it is for), format (short for a vertical video under a minute, long for a video of several minutes).")
EXAMPLES = [
    ("Topic: sourdough bread",
     '{"title": "Sourdough Mistakes Every Beginner Makes", "hook": "Your sourdough is flat because of one step you '
     'probably skip.", "angle": "Five beginner mistakes, each fixed in under a minute.", "audience": "home bakers '
     'starting out", "format": "short"}'),
]
SCHEMA = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "minLength": 8, "maxLength": 100},
        "hook": {"type": "string", "minLength": 10, "maxLength": 240},
        "angle": {"type": "string", "minLength": 5, "maxLength": 240},
        "audience": {"type": "string", "minLength": 3, "maxLength": 100},
        "format": {"type": "string", "enum": ["short", "long"]},
    },
    "required": ["title", "hook", "angle", "audience", "format"],
}
TRIES_PER_CONCEPT = 3  # asks per concept before a near-duplicate is dropped
TITLE_WORDS = 12  # past this a "title" is a sentence the model wrote (YouTube shows about 70 characters)


class Titles:
    """Titles seen in this run and in --history, shared by all workers under -j."""

    def __init__(self, history: Iterable[str] = ()):
        self.seen = list(history)
        self.lock = threading.Lock()

    def claim(self, title: str) -> str | None:
        """Add TITLE unless it is a near-duplicate; return the title it clashes with, if any."""
        with self.lock:
            for other in self.seen:
                if text.near_duplicate(title, other):
                    return other
            self.seen.append(title)
            return None


class Idea(pipe.Stage):
    name = "idea"
    key = "title"

    def __init__(self, topics: list[str], count: int, fmt: str | None, titles: Titles, llm: LLMSettings,
                 language: str = languages.DEFAULT):
        self.topics, self.count, self.format, self.titles, self.llm = topics, count, fmt, titles, llm
        self.blocked: dict[str, list[dict]] = {}  # topic -> the block findings of its last refused draft
        self.language = language

    def settings(self) -> dict[str, Any]:
        settings = {"n": self.count, "format": self.format, "llm": self.llm.fingerprint()}
        if self.language != languages.DEFAULT:  # English runs keep the fingerprints they had
            settings["language"] = self.language
        return settings

    def source(self) -> Iterable[Record] | None:
        if not self.topics:
            return None
        return ({"topic": topic} for topic in self.topics)

    def inputs(self, record: Record) -> Any:
        return {"topic": record.get("topic"), "recommendation": record.get("recommendation"), "settings": self.settings()}

    def check(self, record: Record) -> None:
        topic = record.get("topic")
        if "topic" not in record:
            raise BadInput("record has no 'topic'; give each line a \"topic\" (or pass topics as arguments)")
        if not isinstance(topic, str):
            raise BadInput(f"'topic' must be text, not {_json_type(topic)} ({text.truncate(repr(topic), 30)}); "
                           "quote it, e.g. {\"topic\": \"home espresso\"}")
        if not topic.strip():
            raise BadInput("empty topic; give a topic of a few words, e.g. cs-idea \"home espresso\"")

    def plan(self, record: Record) -> str:
        return f"would ask the {self.llm.resolved().engine} LLM for {self.count} concepts on {record['topic']!r}"

    def process(self, record: Record) -> list[Record]:
        topic = " ".join(record["topic"].split())
        steer = record.get("recommendation") if isinstance(record.get("recommendation"), dict) else None
        concepts = []
        for number in range(self.count):
            concept = self._concept(topic, steer, number)
            if concept:
                concepts.append(self._record(record, topic, steer, concept, number))
        if not concepts and self.blocked.get(topic):  # the model only wrote what must not go out
            raise EngineError(f"no usable concept for topic {text.truncate(topic, 60)!r}: every draft had a block "
                              f"finding ({checks.describe(self.blocked[topic])}); try another --seed or a larger --model")
        if not concepts:  # a topic must never vanish silently
            raise EngineError(f"no usable concept for topic {text.truncate(topic, 60)!r}: every answer was off-topic "
                              "or a near-duplicate; try another --seed, other wording, or a larger --model")
        return concepts

    def _concept(self, topic: str, steer: dict | None, number: int) -> dict | None:
        engine = get_llm(self.llm, self.language)
        documents.check_engine(engine, self.language)
        prompt = f"Topic: {topic}"
        if self.language != languages.DEFAULT:
            prompt += f"\nWrite the title, hook, angle and audience in {languages.name(self.language)}."
        if steer and steer.get("summary"):
            prompt += f"\nWhat works on this channel: {steer['summary']}"
        for attempt in range(TRIES_PER_CONCEPT):
            offset = (number * TRIES_PER_CONCEPT + attempt) * 3
            if engine.writes_documents:  # a base model continues a concept written as labelled lines
                concept = self._continued(engine, topic, offset)
                if concept is None:
                    continue
            else:
                concept = engine.json(SYSTEM, prompt, SCHEMA, max_tokens=320, examples=EXAMPLES, seed_offset=offset)
            concept = tidy(concept)
            short = text.truncate(topic, 60)
            if not on_topic(concept, topic):
                log.info(f"topic {short!r}: dropped off-topic concept {concept['title']!r}")
                continue
            if len(concept["title"].split()) > TITLE_WORDS:
                log.info(f"topic {short!r}: dropped a sentence given as a title ({concept['title']!r})")
                continue
            blocks = checks.blocking(checks.run({"topic": topic, **concept}))
            if blocks:  # offensive words, our own prompt echoed, a list of titles: ask again
                self.blocked[topic] = blocks
                log.info(f"topic {short!r}: dropped a concept with {checks.describe(blocks, 1)}")
                continue
            clash = self.titles.claim(concept["title"])
            if clash is None:
                return concept
            log.info(f"topic {short!r}: dropped near-duplicate title {concept['title']!r} (like {clash!r})")
        return None

    def _continued(self, engine, topic: str, offset: int) -> dict | None:
        """A concept from a base model: a headline from the list it continues (documents.headlines_document)
        that names the topic and was not given yet, then the first sentences of the article under it; None
        when there is none."""
        listed = engine.continue_document(documents.headlines_document(self.language, topic), max_tokens=90,
                                          stop=["\n\n\n"], seed_offset=offset)
        fresh = [h for h in documents.headlines(listed) if 3 <= len(h.split()) <= TITLE_WORDS
                 and text.shares_word(h, topic) and not documents.echoes(self.language, h) and not any(text.near_duplicate(h, seen) for seen in self.titles.seen)]
        if not fresh:
            log.info(f"topic {text.truncate(topic, 60)!r}: the model listed no new headline naming the topic; asking again")
            return None
        title = fresh[0].rstrip(".:،")
        article = engine.continue_document(documents.article_document(self.language, topic, title, []),
                                           max_tokens=90, stop=["\n\n\n"], seed_offset=offset + 1)
        sentences = [s for s in text.sentences(text.clean(documents.plain(article))) if s[-1] in text.SENTENCE_ENDS
                     and languages.units(s, self.language) >= 4 and documents.narration(s, self.language, title)]
        rest = documents.concept_rest(self.language, topic, sentences)
        if len(rest["hook"]) < SCHEMA["properties"]["hook"]["minLength"]:
            log.info(f"topic {text.truncate(topic, 60)!r}: the model wrote no first sentence for {title!r}; asking again")
            return None
        return {"title": title, **rest, "format": "short"}

    def _record(self, record: Record, topic: str, steer: dict | None, concept: dict, number: int) -> Record:
        fmt = self.format or (steer or {}).get("format") or concept["format"]
        out = {key: value for key, value in record.items() if key not in ("id", "_inputs")}
        out.update(id=new_id(record.get("id") or topic, number, concept["title"]), topic=topic,
                   title=concept["title"], hook=concept["hook"], angle=concept["angle"],
                   audience=concept["audience"], format=fmt, language=self.language)
        if steer:
            out["steered_by"] = {"id": steer.get("id"), "summary": steer.get("summary")}
        return out


def tidy(concept: dict) -> dict:
    """A model's concept as a person would write it: one line per field, no markup, quotes or brackets,
    no sentence twice, and a title cut only at a sentence, clause or word boundary."""
    out = {key: text.unique_sentences(text.clean(re.sub(r"[<>{}\[\]“”]", " ", str(value))))
           for key, value in concept.items()}
    out["title"] = text.phrase(out["title"], 100)
    for key, limit in (("hook", 240), ("angle", 240), ("audience", 100)):
        out[key] = text.phrase(text.unlisted(out[key]), limit)
    return out


def _json_type(value: Any) -> str:
    return {bool: "true/false", int: "a number", float: "a number", list: "a list", dict: "an object",
            type(None): "null"}.get(type(value), type(value).__name__)


def on_topic(concept: dict, topic: str) -> bool:
    """The title names the topic (a viewer and YouTube's search judge a video by it: "Beverage of the Day"
    for budget meal prep is off topic however the hook reads), and borrows no word of the few-shot example
    that the topic lacks (a tiny model given an emoji topic writes about sourdough)."""
    borrowed = text.stems("sourdough bread bakers") - text.stems(topic)  # the few-shot example's own subject
    return text.shares_word(concept["title"], topic) and not (text.stems(concept["title"]) & borrowed)


def _history_titles(path: str | None) -> list[str]:
    if not path:
        return []
    titles = []
    for item in read_items([path], flag="--history"):
        if item.record and isinstance(item.record.get("title"), str):
            titles.append(item.record["title"])
        meta = (item.record or {}).get("meta")
        if isinstance(meta, dict) and isinstance(meta.get("title"), str):
            titles.append(meta["title"])
    return titles


def _file_topics(path: str) -> list[str]:
    from pathlib import Path  # only here, so --help does not pay for pathlib

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read topics file {path}: {exc.strerror}") from None
    lines = []
    for number, raw in enumerate(data.splitlines(), 1):
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise UsageError(f"{path}:{number}: not UTF-8 text (byte {raw[exc.start]:#04x} at column "
                             f"{exc.start + 1}); save the file as UTF-8") from None
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


@pipe.stage_command("idea")
@click.argument("topics", nargs=-1)
@click.option("-n", "--count", type=click.IntRange(1, 50), default=3, show_default=True, help="Concepts per topic.")
@click.option("-t", "--topics-file", metavar="FILE", help="Read topics from FILE, one per line ('#' starts a comment).")
@click.option("--format", "fmt", type=click.Choice(["short", "long"]), help="Force the format of every concept.")
@click.option("--history", metavar="FILE", help="JSONL of past records (e.g. published ones): titles near these are dropped.")
@click.option("--language", metavar="TAG", envvar=languages.ENV, default=languages.DEFAULT, show_default=True,
              help=f"BCP-47 language of the concepts (env {languages.ENV}): es, de, pt-BR, ar, hi, ja, zh...; "
                   "cs-script and every later stage follow it.")
@pipe.llm_options
def cli(opts, topics, count, topics_file, fmt, history, language, llm):
    """Topic -> video concepts (title, hook, angle, audience, format).

    \b
    Topics come from arguments, a --topics-file, or records with a "topic" key on
    stdin (such as `cs-stats recommend` output, whose "recommendation" steers the
    concepts; the output's "steered_by" names it). Adds: id, topic, title (at most
    100 characters), hook, angle, audience, format (short|long), language. Near-duplicate
    titles are dropped within the run and against --history.

    \b
    Examples:
      cs-idea "home espresso" -n 3
      cs-idea -t examples/topics.txt --format short --seed 7 > ideas.jsonl
      cs-idea "café en casa" --language es | cs-script --length 30
      cs-stats recommend | cs-idea -n 5 --history published.jsonl
    """
    # The few-shot titles count as seen, so a tiny model copying its example is asked again.
    titles = Titles([reply.split('"title": "')[1].split('"')[0] for _, reply in EXAMPLES] + _history_titles(history))
    if any(not topic.strip() for topic in topics):
        raise UsageError("empty topic; give a topic of a few words, e.g. cs-idea \"home espresso\"")
    all_topics = list(topics) + (_file_topics(topics_file) if topics_file else [])
    if (topics or topics_file) and not all_topics:
        raise UsageError("no topics given; pass a topic of a few words or a non-empty --topics-file")
    return Idea(all_topics, count, fmt, titles, llm, languages.canonical(language))
