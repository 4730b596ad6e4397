"""cs-script: concept -> narration script in timed segments."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import click

from .. import checks, documents, languages, log, pipe, text
from ..core import config
from ..engines import tts
from ..engines.llm import InvalidReply, LLMSettings, get_llm
from ..errors import EngineError
from ..records import Record

DEFAULT_LENGTH = {"short": 60, "long": 480}
SEGMENT_SECONDS = {"short": 15, "long": 60}  # one segment per this much narration
TOLERANCE = 0.15  # the word budget is kept within +-15%
DRAFTS = 2  # whole scripts written before a record fails for block findings (each is many model calls)
OUTLINE_SYSTEM = ("You plan YouTube videos. Reply as JSON: a list of sections, each with on_screen (a heading of "
                  "at most five words shown on screen) and visual (two to four search keywords for stock footage).")
WRITE_SYSTEM = ("You write narration for YouTube videos: plain spoken sentences, no lists, no headings, no stage "
                "directions, no emojis.")


def outline_schema(count: int) -> dict:
    section = {"type": "object", "properties": {"on_screen": {"type": "string", "minLength": 3, "maxLength": 60},
                                                "visual": {"type": "string", "minLength": 3, "maxLength": 80}},
               "required": ["on_screen", "visual"]}
    return {"type": "object", "properties": {"sections": {"type": "array", "items": section, "minItems": count,
                                                          "maxItems": count}}, "required": ["sections"]}


class Script(pipe.Stage):
    name = "script"
    key = "script"
    needs = {"title": "cs-idea"}

    def __init__(self, length: int | None, wpm: int | None, voice_engine: str, style: str, language: str | None,
                 cta: str | None, llm: LLMSettings):
        self.length, self.wpm, self.voice_engine, self.style = length, wpm, voice_engine, style
        self.language, self.cta, self.llm = language, cta, llm

    def settings(self) -> dict[str, Any]:
        # English without --wpm fingerprints as before languages came in: re-runs keep skipping done work.
        return {"length": self.length, "wpm": self.wpm or tts.rate_for(self.voice_engine, "en"),
                "voice_engine": self.voice_engine, "style": self.style, "language": self.language or "en", "cta": self.cta, "llm": self.llm.fingerprint()}

    def inputs(self, record: Record) -> Any:
        concept = {k: record.get(k) for k in ("topic", "title", "hook", "angle", "audience", "format", "recommendation")}
        settings = self.settings()
        if self.language is None:  # no flag: the concept's language (cs-idea --language), else English
            settings["language"] = self._language(record)
        return {"concept": concept, "settings": settings}

    def _language(self, record: Record) -> str:
        if self.language:
            return self.language
        try:
            return languages.canonical(record["language"]) if isinstance(record.get("language"), str) else languages.DEFAULT
        except Exception:
            return languages.DEFAULT

    def _rate(self, language: str) -> int:
        """Words (characters, for ja/zh) per minute: --wpm, else the measured rate of the voice that will speak
        LANGUAGE (the bundled Piper voice speaks English; other languages go to espeak-ng)."""
        return self.wpm or tts.rate_for(self.voice_engine, language, config.get("CS_TTS_VOICE"))

    def plan(self, record: Record) -> str:
        seconds = self._seconds(record)
        language = self._language(record)
        where = "" if language == languages.DEFAULT else f", {language}"
        return (f"would write a {seconds}-second script ({self._budget(seconds, self._rate(language))} "
                f"{languages.unit_name(language)}{where}) for {record['title']!r}")

    def _seconds(self, record: Record) -> int:
        steer = record.get("recommendation") if isinstance(record.get("recommendation"), dict) else {}
        suggested = steer.get("length_s") if isinstance(steer.get("length_s"), int) and steer["length_s"] >= 10 else None
        return self.length or suggested or DEFAULT_LENGTH.get(record.get("format"), 60)

    @staticmethod
    def _budget(seconds: int, rate: int) -> int:
        return max(10, round(seconds * rate / 60))

    def process(self, record: Record) -> Record:
        """A script whose own text has no block finding (the content checks), asked again with other
        seeds up to DRAFTS times."""
        drafts, draft = DRAFTS, 0
        while draft < drafts:
            out = self._draft(record, draft)
            judged = {"topic": out.get("topic"), "title": out.get("title"), "script": out["script"]}
            blocks = checks.blocking(checks.run(judged, prefix="script."))
            if not blocks:
                return out
            draft += 1
            if _blames_hook(blocks, record):
                # every draft starts with the hook, so none can pass while it stays: one more without it
                log.info(f"record {record.get('id')}: draft {draft} has {checks.describe(blocks, 1)}, in the hook "
                         "cs-idea wrote; writing another without it")
                record, drafts = {**record, "hook": ""}, drafts + 1
            else:
                log.info(f"record {record.get('id')}: draft {draft} has {checks.describe(blocks, 1)}; writing another")
        raise EngineError(f"every draft had a block finding ({checks.describe(blocks)}); "
                          "try another --seed or a larger --model")

    def _draft(self, record: Record, draft: int) -> Record:
        language = self._language(record)
        rate = self._rate(language)
        seconds = self._seconds(record)
        budget = self._budget(seconds, rate)
        kind = "long" if seconds >= 180 else "short"
        count = max(2, min(24, round(seconds / SEGMENT_SECONDS[kind])))  # hook, ..., call to action
        llm = get_llm(self.llm, language)
        writer = (DocumentWriter if llm.writes_documents else Writer)(llm, record, self.style, language, shift=1000 * draft)
        sections = writer.outline(count)
        cta = self.cta or (f"Subscribe for more about {text.clean(record.get('topic') or record['title'])}."
                           if languages.base(language) == "en" else writer.cta())
        segments = writer.draft(sections, budget, cta)
        fit(writer, segments, budget, cta)
        writer.label(segments)
        script = {"title": record["title"], "language": language,
                  "segments": [{"text": joined(s["sentences"], language), "visual": s["visual"], "on_screen": s["on_screen"]}
                               for s in segments],
                  "cta": cta, "wpm": rate, "voice_engine": self.voice_engine, "target_s": seconds}
        if languages.spaceless(language):
            script["rate_unit"] = "characters"  # wpm counts characters per minute for this language
        return {**record, "script": script}


def spoken_hook(record: Record) -> str:
    """The hook as the script speaks it: clean, and a list run inline turned into sentences."""
    return text.clean(text.unlisted(str(record.get("hook") or "")))


def _blames_hook(blocks: list[dict], record: Record) -> bool:
    """Whether a block finding quotes the record's hook (a finding's excerpt is cut at 80 characters)."""
    hook = spoken_hook(record)
    return bool(hook) and any(b.get("excerpt") and b["excerpt"].rstrip("…. ")[:60] in hook for b in blocks)


class Writer:
    """Asks the LLM for an outline, then for each section's narration, then for more where it fell short."""

    def __init__(self, llm, record: Record, style: str, language: str, shift: int = 0):
        self.llm, self.record, self.style, self.language = llm, record, style, language
        self.shift = shift  # added to every seed offset: another draft asks with other seeds
        self.spoken = languages.name(language)  # "Spanish": models follow a name better than a code
        self.count = lambda value: languages.units(value, language)
        self.calls = 0
        about = [f"Video title: {record['title']}"]
        for key in ("angle", "audience"):
            if record.get(key):
                about.append(f"{key.capitalize()}: {record[key]}")
        self.about = "\n".join(about)

    def outline(self, count: int) -> list[dict]:
        try:
            ask = f"{self.about}\nPlan {count} sections."
            if languages.base(self.language) != "en":
                ask += f" Write on_screen and visual in {self.spoken}."
            reply = self.llm.json(OUTLINE_SYSTEM, ask, outline_schema(count),
                                  max_tokens=60 * count, seed_offset=self.shift)
            sections = [{"on_screen": text.phrase(plain(s["on_screen"]), 40), "visual": plain(s["visual"])}
                        for s in reply["sections"]]
        except InvalidReply as exc:  # a tiny model may not manage the outline: plan from the text later
            log.info(f"record {self.record.get('id')}: outline failed ({exc.message}); deriving headings from the text")
            sections = [{"on_screen": "", "visual": ""} for _ in range(count)]
        return sections

    def draft(self, sections: list[dict], budget: int, cta: str) -> list[dict]:
        per = budget / len(sections)
        segments, previous = [], ""
        hook = spoken_hook(self.record)
        for number, section in enumerate(sections):
            role = ("the opening" if number == 0 else "the closing part" if number == len(sections) - 1
                    else f"part {number + 1} of {len(sections)}")
            heading = f" about '{section['on_screen']}'" if section["on_screen"] else ""
            prompt = (f"{self.about}\nWrite {role}{heading}: about {round(per)} {languages.unit_name(self.language)}, "
                      f"{self.style} style, in {self.spoken}.")
            if previous:
                prompt += f"\nThe previous part ended: {previous}"
            if number == 0 and hook:
                prompt += f"\nStart right after this first line: {hook}"
            sentences = self.sentences(prompt, max_tokens=int(per * 2.5) + 40, offset=number,
                                       seen=[s for segment in segments for s in segment["sentences"]] + [hook])
            if number == 0 and hook:
                sentences = text.sentences(hook) + sentences
            if number == len(sections) - 1:
                sentences.append(cta)
            previous = sentences[-1] if sentences else previous
            segments.append({**section, "sentences": sentences, "target": per, "fixed": {0} if number == 0 and hook else set()})
        return segments

    def label(self, segments: list[dict]) -> None:
        """Headings and footage keywords that match the final text (fitting may have dropped sentences)."""
        for segment in segments:
            body = " ".join(segment["sentences"])
            # numbers a list left in front ("0 1 How to make ...") go; a stand-in heading ("Your Title") or
            # one that repeats our instructions ("Video title:", "at most five words") gives way to the
            # segment's own first words: a heading alone is no reason to throw the whole draft away
            segment["on_screen"] = re.sub(r"^(?:\d+\s+){2,}", "", segment["on_screen"])
            if checks.echoed(segment["on_screen"]) or not text.shares_word(segment["on_screen"],
                                                                           body + " " + self.record["title"]):
                segment["on_screen"] = heading_from(segment["sentences"])
            if not 1 <= len(segment["visual"].split()) <= 6:  # a sentence is no search query
                segment["visual"] = keywords(body, self.record, self.language)

    def more(self, segment: dict, offset: int) -> list[str]:
        tail = " ".join(segment["sentences"][-2:])
        prompt = f"{self.about}\nContinue this narration with two more sentences in {self.spoken}:\n{tail}"
        return self.sentences(prompt, max_tokens=90, offset=100 + offset, seen=segment["sentences"])

    def sentences(self, prompt: str, max_tokens: int, offset: int, seen: list[str]) -> list[str]:
        self.calls += 1
        reply = self.llm.text(WRITE_SYSTEM, prompt, max_tokens=max_tokens, seed_offset=offset + self.shift)
        instructions = prompt.split("\n", len(self.about.splitlines()))[-1]  # what we asked, minus the concept
        return usable_sentences(reply, seen, instructions, self.language)

    def cta(self) -> str:
        """A closing call to action in the script's language, written by the model (one sentence)."""
        topic = text.clean(self.record.get("topic") or self.record["title"])
        prompt = f"Write one short sentence in {self.spoken} asking viewers to subscribe for more about {topic}."
        found = self.sentences(prompt, max_tokens=40, offset=99, seen=[])
        return found[0] if found else f"Subscribe: {topic}."


class DocumentWriter(Writer):
    """The narration as one article a base model continues (documents.py): no outline (headings and footage
    keywords come from the text), each section the continuation of what was said last, the call to action the
    language's fixed sentence. Sentences in another script, talking about the article, or the title again are
    dropped."""

    def __init__(self, llm, record: Record, style: str, language: str, shift: int = 0):
        super().__init__(llm, record, style, language, shift)
        documents.check_engine(llm, language)
        self.topic = text.clean(record.get("topic") or record["title"])
        self.told: list[str] = []  # every sentence kept so far, in order
        self.closing = ""

    def outline(self, count: int) -> list[dict]:
        return [{"on_screen": "", "visual": ""} for _ in range(count)]

    def draft(self, sections: list[dict], budget: int, cta: str) -> list[dict]:
        per = budget / len(sections)
        hook = spoken_hook(self.record)
        self.told = text.sentences(hook) if hook else []
        self.closing = cta
        segments = []
        for number, section in enumerate(sections):
            sentences = self.continued(max_tokens=int(per * 3) + 40, offset=number)
            if number == 0 and hook:
                sentences = text.sentences(hook) + sentences
            if number == len(sections) - 1:
                sentences.append(cta)
            segments.append({**section, "sentences": sentences, "target": per,
                             "fixed": {0} if number == 0 and hook else set()})
        return segments

    def more(self, segment: dict, offset: int) -> list[str]:
        told = [s for s in segment["sentences"] if s != self.closing]
        return self.continued(max_tokens=90, offset=100 + offset, told=told)

    def continued(self, max_tokens: int, offset: int, told: list[str] | None = None) -> list[str]:
        """Sentences that follow TOLD (default: all kept so far) in the article."""
        self.calls += 1
        told = self.told if told is None else told
        document = documents.article_document(self.language, self.topic, self.record["title"], told[-6:],
                                              languages.spaceless(self.language))
        reply = self.llm.continue_document(document, max_tokens=max_tokens, stop=["\n\n\n"],
                                           seed_offset=offset + self.shift)
        reply = documents.plain(reply)
        kept = [s for s in usable_sentences(reply, [*self.told, self.record["title"]], "", self.language)
                if len(languages.letters_by_script(s)) <= 1 and documents.narration(s, self.language, self.record["title"])
                and prose(s, self.language)]
        kept = fresh_openings(kept, self.told)
        self.told += kept
        return kept

    def cta(self) -> str:
        return documents.cta(self.language, self.topic)


def prose(sentence: str, language: str) -> bool:
    """SENTENCE reads as narration, not a recipe line or a label: four words or more, no colon, and (in a
    script with capitals) a capital first letter ("taza de leche (o leche condensada)." is an ingredient)."""
    if languages.units(sentence, language) < (8 if languages.spaceless(language) else 4) or ":" in sentence:
        return False
    first = next((c for c in sentence if c.isalpha()), "")
    return not first or first.upper() == first.lower() or first.isupper()


def fresh_openings(sentences: list[str], told: list[str]) -> list[str]:
    """SENTENCES less those opening with the same two words as one already told or kept: a base model slips
    into a list ("قصة عن ..." five times over, "a story about ..."), which no viewer hears as narration."""
    def opening(sentence: str) -> tuple[str, ...]:
        return tuple(w.lower() for w in text.words(sentence)[:2])

    seen = {opening(s) for s in told}
    kept = []
    for sentence in sentences:
        if opening(sentence) not in seen:
            kept.append(sentence)
            seen.add(opening(sentence))
    return kept


SPEAKER = re.compile(r"^(?:[A-Z][\w.'-]*(?: [A-Z][\w.'-]*)?|narrator|host|voice ?over)\s*:\s+", re.IGNORECASE)


def capitalised(sentence: str) -> bool:
    """A sentence of a cased script starts with a capital ("no thanks there is anyone who does that." was a
    fragment SmolLM2 ran on with), a number ("30 seconds is enough.") or a name with a capital inside
    (iPhone, eBay)."""
    start = sentence.lstrip(" \"'“‘«¿¡(")
    first = start[:1]
    word = start.split()[0] if start.split() else ""
    return not first.isalpha() or first.upper() == first.lower() or first.isupper() or any(c.isupper() for c in word)


def usable_sentences(reply: str, seen: list[str] = (), instructions: str = "", language: str = "en") -> list[str]:
    """Keep real spoken sentences: no headings, list markers, speaker labels, fragments, a cut-off last
    sentence, a repeat of one already in the script, or an echo of the instructions (small models do that)."""
    echo = ngrams(WRITE_SYSTEM + " " + instructions, 3)
    kept: list[str] = []
    for line in reply.splitlines():
        line = text.clean(text.unlisted(SPEAKER.sub("", line.lstrip("-•*0123456789.) "))))
        if not line or line.endswith(":"):
            continue
        for sentence in text.sentences(line):
            long_enough = languages.units(sentence, language) >= (6 if languages.spaceless(language) else 3)
            if (long_enough and sentence[-1] in text.SENTENCE_ENDS and not ngrams(sentence, 3) & echo
                    and capitalised(sentence) and not any(text.near_duplicate(sentence, other, 0.9) for other in [*seen, *kept] if other)):
                kept.append(sentence)
    return kept


def ngrams(value: str, size: int = 4) -> set[tuple[str, ...]]:
    tokens = [w.lower() for w in text.words(value)]
    return {tuple(tokens[k:k + size]) for k in range(len(tokens) - size + 1)}


def fit(writer: Writer, segments: list[dict], budget: int, cta: str) -> None:
    """Bring the total within TOLERANCE of BUDGET: ask for more where short, then keep the subset of
    sentences whose words come nearest the budget (whole sentences only, order kept)."""
    count = writer.count
    for attempt in range(4 * len(segments)):
        if sum(words(s, count) for s in segments) >= budget * (1 - TOLERANCE / 2):
            break
        segment = max(segments, key=lambda s: s["target"] - words(s, count))
        extra = [s for s in writer.more(segment, attempt) if s not in segment["sentences"]]
        position = len(segment["sentences"]) - (1 if segment["sentences"][-1:] == [cta] else 0)
        segment["sentences"][position:position] = extra
    drop = nearest_selection(segments, budget, cta, count)
    for number, segment in enumerate(segments):
        segment["sentences"] = [s for k, s in enumerate(segment["sentences"]) if (number, k) not in drop]
    total = sum(words(s, count) for s in segments)
    if not budget * (1 - TOLERANCE) <= total <= budget * (1 + TOLERANCE):
        unit = languages.unit_name(writer.language)
        raise EngineError(f"the script came to {total} {unit}, not {budget} +-{TOLERANCE:.0%}; "
                          "try another --seed or a larger --model")


def nearest_selection(segments: list[dict], budget: int, cta: str, count=text.word_count) -> frozenset[tuple[int, int]]:
    """Which sentences to drop so the total lands nearest BUDGET: a subset sum over the droppable ones
    (never the hook, the call to action or a segment's first sentence), fewest drops on a tie."""
    total = sum(words(s, count) for s in segments)
    reachable: dict[int, frozenset] = {total: frozenset()}
    for number, segment in enumerate(segments):
        for k, sentence in enumerate(segment["sentences"]):
            if k == 0 or k in segment["fixed"] or sentence == cta:
                continue
            size = count(sentence)
            for reached, dropped in list(reachable.items()):
                smaller = reached - size
                if smaller > 0 and (smaller not in reachable or len(reachable[smaller]) > len(dropped) + 1):
                    reachable[smaller] = dropped | {(number, k)}
    best = min(reachable, key=lambda t: (abs(t - budget), len(reachable[t])))
    return reachable[best]


def plain(value: str) -> str:
    """Model text for a heading or query: no markup, no trailing punctuation."""
    return text.clean(re.sub(r"<[^>]*>|[<>{}\[\]]", " ", value)).rstrip(".,;:!?")


def words(segment: dict, count=text.word_count) -> int:
    return sum(count(s) for s in segment["sentences"])


def joined(sentences: list[str], language: str) -> str:
    """A segment's sentences as one text: with spaces, or without them in Japanese and Chinese."""
    return ("" if languages.spaceless(language) else " ").join(sentences)


def heading_from(sentences: list[str]) -> str:
    """A heading from the segment's first sentence: its first clause, or leading words ending on a content
    word, never cut inside a word or after "the"."""
    return text.phrase(text.clean(sentences[0]).rstrip(".!?…") if sentences else "", 40)


def keywords(body: str, record: Record, language: str = "en") -> str:
    """Search keywords for footage: the topic, then the segment's most frequent content words."""
    filler = text.stopwords(language)
    counts = Counter(w.lower() for w in text.words(body) if len(w) > 3 and w.lower() not in filler)
    picked = [w for w, _ in counts.most_common(3)]
    topic = record.get("topic") or ""
    return " ".join(([topic] if topic else []) + [w for w in picked if w not in topic.lower()])


@pipe.stage_command("script")
@click.option("--length", type=click.IntRange(10, 3600), metavar="SECONDS",
              help="Narration length; default: the record's recommendation.length_s, else 60 for short, 480 for long.")
@click.option("--voice-engine", "voice_engine", envvar=tts.ENGINE_ENV, default=tts.DEFAULT_ENGINE, show_default=True,
              metavar="NAME", help=f"The TTS engine that will speak the script (env {tts.ENGINE_ENV}, as cs-voice's "
              "--engine): its measured speaking rate sets the word budget.")
@click.option("--wpm", type=click.IntRange(60, 900), metavar="N",
              help="Words per minute the budget assumes (characters per minute for ja, zh and other scripts "
                   "without spaces). Default: the measured rate of the voice for the language: English piper "
                   f"{tts.WORDS_PER_MINUTE['piper']}, espeak {tts.WORDS_PER_MINUTE['espeak']}; espeak es "
                   f"{tts.RATES[('espeak', 'es')]}, ar {tts.RATES[('espeak', 'ar')]}, ja {tts.RATES[('espeak', 'ja')]}/min; "
                   f"others {tts.FALLBACK_WPM}). The count is kept within +-15%.")
@click.option("--style", default="friendly, clear", show_default=True, help="Tone of voice, e.g. 'energetic'.")
@click.option("--language", metavar="TAG", envvar=languages.ENV,
              help=f"BCP-47 language of the narration (env {languages.ENV}; default: the record's language from "
                   "cs-idea --language, else en). Later stages follow script.language.")
@click.option("--cta", metavar="TEXT", help="Closing call to action (default: subscribe for more about the topic).")
@pipe.llm_options
def cli(opts, length, voice_engine, wpm, style, language, cta, llm):
    """Concept -> narration script in segments (hook first, call to action last).

    \b
    Reads records from cs-idea (title, hook, angle, audience, format, topic).
    Adds: script = {title, language, segments: [{text, visual, on_screen}], cta,
    wpm, voice_engine, target_s}: the words per minute and engine the budget assumed. `visual` holds search keywords for footage; `on_screen` a short
    heading. Long scripts are written section by section, so a small model's
    context suffices.

    \b
    Examples:
      cs-idea "home espresso" -n 2 | cs-script --length 60
      cs-script --length 30 --voice-engine espeak < ideas.jsonl | cs-voice --engine espeak
      cs-script -i ideas.jsonl --length 90 --style energetic -j 2 > scripts.jsonl
      cs-idea "café en casa" --language es | cs-script --length 30 | cs-voice   # espeak-ng speaks Spanish
      jq -r '.script.segments[].text' scripts.jsonl
    """
    return Script(length, wpm, voice_engine, style, languages.canonical(language) if language else None, cta, llm)
