"""Shot planning: the picture changes with the spoken sentences.

The script's sentences are timed by the caption words (cs-caption writes the script's own words, timed by
whisper; when it fell back to what whisper heard, the heard words are cut into sentences at their end
punctuation). One shot per sentence, cut where the sentence's first word begins; a shot under the minimum is
merged with its shorter neighbour, a shot over the maximum is split at word boundaries (after a comma where
one is near). Shots cover 0 .. the voice's end with no gap. Pure stdlib, cheap to import.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Callable

from ..text import sentences as split_sentences
from .library import content_words, stem
from . import terms as search_terms
from .textnorm import script_segments

QUERY_WORDS = 3  # stock search answers one to three concrete words best (media/terms.py)
MIN_ALIGNED = 0.5  # below this share of caption words found in the script, the captions are what was said
Suggest = Callable[[list[str], str], "list[list[str]] | None"]  # (sentences, topic) -> terms per sentence
_PAUSE = re.compile(r"[,;:—–]$")
_END = re.compile(r"[.!?…][\"')\]]*$")


@dataclass
class Unit:
    """A stretch of narration: its time span, caption words, and the sentences and segments it belongs to."""

    start: float
    end: float
    words: list[dict] = field(default_factory=list)  # each tagged with "_s", its sentence's index

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def text(self) -> str:
        from .subtitles import join_words  # no spaces between Chinese or Japanese caption words

        return join_words([str(w["word"]).strip() for w in self.words]).strip()


@dataclass
class PlannedShot:
    start: float
    end: float
    text: str
    query: str  # the first of `queries`
    segment: int  # the script segment the shot starts in (its `visual` is context)
    queries: list[str] = field(default_factory=list)  # what to search for, best first (the cascade)
    heads: list[str] = field(default_factory=list)  # the sentence's head nouns: a card's emoji shows the first


def plan(script: dict, words: list[dict], duration: float, min_shot: float = 1.5, max_shot: float = 6.0,
         topic: str = "", suggest: Suggest | None = None) -> list[PlannedShot]:
    """The shot list for a narration of DURATION seconds whose caption WORDS speak SCRIPT. Each shot's
    queries: the picturable nouns of its own words (media/terms.py), of its sentence when its words have
    none, then its segment's `visual` hint, then the TOPIC ("That is all for today." shows the hint).
    SUGGEST (`--terms llm`) may put other terms first; see `suggested`."""
    segments = script.get("segments") or []
    timed, units = _sentence_units(script, words, duration)
    units = _merge_short(units, min_shot, max_shot)
    units = [piece for unit in units for piece in _split_long(unit, min_shot, max_shot)]
    texts, contexts, hints, spans = [], [], [], []
    for number, unit in enumerate(units):
        owners = sorted({w["_s"] for w in unit.words}) or [_owner_before(units, number)]
        segment = timed[owners[0]][1]
        texts.append(unit.text)
        contexts.append(" ".join(timed[k][0] for k in owners))
        hints.append(str((segments[segment] if segment < len(segments) else {}).get("visual") or ""))
        spans.append((round(unit.start, 3), round(unit.end, 3), segment))
    language = str(script.get("language") or "en")
    tried, heads = sentence_queries(texts, hints, topic, language, contexts, with_heads=True)
    if suggest is not None:
        tried = suggested(suggest, texts, contexts, hints, topic, tried)
    return [PlannedShot(start, end, text, (found or [""])[0], segment, found, head)
            for (start, end, segment), text, found, head in zip(spans, texts, tried, heads)]


def sentence_queries(texts: list[str], hints: list[str], topic: str, language: str = "en",
                     contexts: list[str] | None = None, with_heads: bool = False):
    """Per text, its searches best first: the text's own phrases (fewer words each step, media/terms.py),
    else its CONTEXT sentence's, then its hint's, then the TOPIC's; each once. All tagged in one batch.
    WITH_HEADS: also the texts' head nouns (else its sentence's, hint's, topic's)."""
    contexts = contexts or [""] * len(texts)
    unique = [t for t in dict.fromkeys([*texts, *contexts, *hints, topic]) if t.strip()]
    tagged = dict(zip(unique, search_terms.sentence_terms(unique, language)))
    none = search_terms.Terms()
    result, heads = [], []
    for text, context, hint in zip(texts, contexts, hints):
        own = search_terms.queries(tagged.get(text, none)) or search_terms.queries(tagged.get(context, none))
        about = search_terms.queries(tagged.get(topic, none))[:2]  # "a day by the sea": sea
        found = _unique([*own, *_fallback(hint, tagged.get(hint, none)), *about, *_fallback(topic, none)])
        result.append(found)
        heads.append(next((t.heads for t in (tagged.get(k, none) for k in (text, context, hint, topic)) if t.heads), []))
    return (result, heads) if with_heads else result


def _fallback(text: str, tagged) -> list[str]:
    """A hint's searches: its own words as written (the script's writer chose them for a picture; at most
    QUERY_WORDS), then its head noun."""
    words = content_words(text)[:QUERY_WORDS]
    return ([" ".join(words)] if words else []) + [h for h in tagged.heads[:1]]


def _unique(queries: list[str]) -> list[str]:
    found: list[str] = []
    for query in queries:
        key = [stem(w) for w in query.split()]
        if query and all(key != [stem(w) for w in q.split()] for q in found):
            found.append(query)
    return found


def suggested(suggest, texts: list[str], contexts: list[str], hints: list[str], topic: str,
              tried: list[list[str]]) -> list[list[str]]:
    """SUGGEST's terms (an LLM's, one call for the script) first, each kept only when it shares a stem with
    its sentence, its hint or the topic (a term about something else is the model's invention); without
    one kept, the rule-based searches stand."""
    proposed = suggest(contexts, topic) or []
    result = []
    for number, found in enumerate(tried):
        offered = proposed[number] if number < len(proposed) and isinstance(proposed[number], list) else []
        allowed = {stem(w) for source in (texts[number], contexts[number], hints[number], topic)
                   for w in content_words(source)}
        kept = [" ".join(content_words(t)[:QUERY_WORDS]) for t in offered[:3] if isinstance(t, str)]
        kept = [t for t in kept if t and any(stem(w) in allowed for w in t.split())]
        result.append(_unique(kept + found) if kept else found)
    return result


def _owner_before(units: list[Unit], number: int) -> int:
    """The sentence a wordless shot (a pause) belongs to: the last one spoken before it."""
    for unit in reversed(units[:number]):
        if unit.words:
            return unit.words[-1]["_s"]
    return 0


# --- sentences timed by the caption words ---------------------------------------------------------------


def _norm(word: str) -> str:
    return re.sub(r"[^\w]", "", str(word).lower())


def _script_sentences(script: dict) -> list[tuple[str, int]]:
    return [(sentence, number) for number, text in enumerate(script_segments(script))
            for sentence in split_sentences(text)]


def _assign(script: dict, words: list[dict]) -> list[tuple[str, int, list[dict]]]:
    """(sentence, segment, its caption words) in spoken order; sentences with no words are dropped."""
    sentences = _script_sentences(script)
    tokens = [(index, _norm(token)) for index, (sentence, _) in enumerate(sentences) for token in sentence.split()]
    heard = [_norm(w["word"]) for w in words]
    matcher = SequenceMatcher(None, [t for _, t in tokens], heard, autojunk=False)
    owner: list[int | None] = [None] * len(words)
    matched = 0
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            owner[block.b + k] = tokens[block.a + k][0]
            matched += 1
    if not sentences or matched < MIN_ALIGNED * len(words):
        return _heard_sentences(words)
    previous = next((o for o in owner if o is not None), 0)
    for k, found in enumerate(owner):  # a word the script lacks belongs to the sentence being spoken
        owner[k] = previous = max(previous, found if found is not None else previous)
    grouped: dict[int, list[dict]] = {}
    for word, index in zip(words, owner):
        grouped.setdefault(index, []).append(word)
    return [(sentences[i][0], sentences[i][1], grouped[i]) for i in sorted(grouped)]


def _heard_sentences(words: list[dict]) -> list[tuple[str, int, list[dict]]]:
    """The caption words cut into sentences at their own end punctuation (no script to follow)."""
    result, current = [], []
    for word in words:
        current.append(word)
        if _END.search(str(word["word"]).strip()):
            result.append(current)
            current = []
    if current:
        result.append(current)
    from .subtitles import join_words

    return [(join_words([str(w["word"]) for w in group]), 0, group) for group in result]


def _sentence_units(script: dict, words: list[dict], duration: float) -> tuple[list[tuple[str, int]], list[Unit]]:
    """The timed sentences as (text, segment) and one unit per sentence, cut where it starts."""
    words = sorted(words, key=lambda w: float(w["start"]))
    timed = _assign(script, words) if words else []
    if not timed:
        return [(" ".join(script_segments(script)), 0)], [Unit(0.0, duration, [])]
    units, cut = [], 0.0
    for number, (sentence, segment, spoken) in enumerate(timed):
        start = 0.0 if number == 0 else min(max(cut, float(spoken[0]["start"])), duration)
        if units:
            units[-1].end = start
        units.append(Unit(start, duration, [{**w, "_s": number} for w in spoken]))
        cut = start
    return [(sentence, segment) for sentence, segment, _ in timed], units


# --- merging and splitting -------------------------------------------------------------------------------


def _join(a: Unit, b: Unit) -> Unit:
    return Unit(a.start, b.end, a.words + b.words)


def _merge_short(units: list[Unit], min_shot: float, max_shot: float) -> list[Unit]:
    """Merge the shortest unit under MIN_SHOT with its shorter neighbour until none is left (a merge over
    MAX_SHOT is split again later, at a better place than the sentence cut)."""
    units = list(units)
    while len(units) > 1:
        short = [k for k, u in enumerate(units) if u.duration < min_shot]
        if not short:
            break
        k = min(short, key=lambda i: units[i].duration)
        neighbours = [n for n in (k - 1, k + 1) if 0 <= n < len(units)]
        n = min(neighbours, key=lambda i: (units[i].duration + units[k].duration > max_shot, units[i].duration))
        first, second = sorted((k, n))
        units[first:second + 1] = [_join(units[first], units[second])]
    return units


def _split_long(unit: Unit, min_shot: float, max_shot: float) -> list[Unit]:
    """UNIT cut into shots of MIN_SHOT .. MAX_SHOT seconds, as few as fit: at a word boundary after a sentence
    end, else after a comma, else nearest the even cut, among those that need no extra shot; else at a time."""
    if unit.duration <= max_shot:
        return [unit]
    count = math.ceil(unit.duration / max_shot)
    target = unit.start + unit.duration * (count // 2) / count
    best, best_score = None, None
    for k in range(1, len(unit.words)):
        at = float(unit.words[k]["start"])
        if not (unit.start + min_shot <= at <= unit.end - min_shot):
            continue
        before = str(unit.words[k - 1]["word"]).strip()
        pause = 2 if _END.search(before) else 1 if _PAUSE.search(before) else 0
        extra = math.ceil((at - unit.start) / max_shot) + math.ceil((unit.end - at) / max_shot) > count
        score = (extra, -pause, abs(at - target))
        if best_score is None or score < best_score:
            best, best_score = k, score
    if best is None:  # no word boundary fits (a long pause, one long word): cut at the ideal time
        at = target
        best = sum(1 for w in unit.words if float(w["start"]) < at)
    else:
        at = float(unit.words[best]["start"])
    head = Unit(unit.start, at, unit.words[:best])
    tail = Unit(at, unit.end, unit.words[best:])
    return _split_long(head, min_shot, max_shot) + _split_long(tail, min_shot, max_shot)
