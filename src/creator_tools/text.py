"""Small text utilities shared by the writing stages: words, sentences, near-duplicate titles."""

from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher

_SENTENCE = re.compile(r"(?<=[.!?…])[\"')\]]*\s+(?=\S)")
_WORD = re.compile(r"[\w'’-]+", re.UNICODE)
STOPWORDS = frozenset("a an and the of to in on for with your you is are how why what this that my i it".split())


def words(text: str) -> list[str]:
    return _WORD.findall(text or "")


def word_count(text: str) -> int:
    return len(words(text))


def sentences(text: str) -> list[str]:
    """Split into sentences, keeping their punctuation."""
    text = re.sub(r"\s+", " ", (text or "").strip())
    return [s.strip() for s in _SENTENCE.split(text) if s.strip()]


def clean(text: str) -> str:
    """One line, no markdown emphasis or stray quotes a small model likes to add."""
    text = re.sub(r"[*_#`]+", "", text or "")
    text = re.sub(r"\s+", " ", text).strip()
    return text.strip("\"' ")


def truncate(text: str, limit: int) -> str:
    """At most LIMIT characters, cut at a word boundary."""
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(" ,;:-–—")
    return cut or text[:limit]


def title_key(title: str) -> str:
    """Titles compared for near-duplicates: case, accents, punctuation and filler words removed."""
    plain = unicodedata.normalize("NFKD", title.casefold())
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    return " ".join(w for w in words(plain) if w not in STOPWORDS)


def near_duplicate(a: str, b: str, threshold: float = 0.8) -> bool:
    """Same title in other words: character similarity or most content words shared."""
    ka, kb = title_key(a), title_key(b)
    if not ka or not kb:
        return ka == kb
    if SequenceMatcher(None, ka, kb).ratio() >= threshold:
        return True
    sa, sb = {_stem(w) for w in ka.split()}, {_stem(w) for w in kb.split()}
    return len(sa & sb) / len(sa | sb) >= 0.75


def shares_word(text_a: str, text_b: str) -> bool:
    """Whether A mentions a content word of B (compared on a 4-letter stem, so "espressos" meets "espresso")."""
    stems = {w[:4] for w in title_key(text_b).split() if len(w) > 2}
    return not stems or any(w[:4] in stems for w in title_key(text_a).split())


def _stem(word: str) -> str:
    """A crude stem, enough to equate "beginner/beginners" and "make/makes"."""
    return word[:-1] if len(word) > 3 and word.endswith("s") else word
