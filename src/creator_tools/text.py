"""Small text utilities shared by the writing stages: words, sentences, near-duplicate titles."""

from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher

from .core.once import once

# A sentence ends at . ! ? … followed by a space, or at a full stop of a script that writes none after it
# (Chinese and Japanese 。！？, Hindi's danda), and at Arabic's question mark.
_SENTENCE = re.compile(r"(?<=[.!?…؟])[\"')\]]*\s+(?=\S)|(?<=[。！？।])[」』）\"']*\s*(?=\S)")
SENTENCE_ENDS = ".!?…。！？।؟"
# Letters, digits and the vowel signs and viramas of Indic scripts, Thai and Arabic (Python's \w leaves out
# combining marks, which would cut "अच्छी" into three words); not the danda (।॥), which ends a sentence.
_WORD = re.compile(r"[\w'’\u0300-\u036F\u064B-\u065F\u0670\u0900-\u0963\u0966-\u0DFF\u0E00-\u0EFF-]+", re.UNICODE)
# The one stop-word list: words that say nothing a title, tag or picture could be about (function words,
# vague verbs and adjectives, number words).
STOPWORDS = frozenset("""
a an the of and or but nor so yet in on at to into onto with without for from by about above below over under
up down out off than then as if when while because since until though although is are was were be been being
am do does did done doing have has had having will would shall should can could may might must it its it's
this that these those there here their they them he she him her his hers we us our you your yours i me my
mine who whom whose which what why how where all any each every both few more most other some such no not
only own same too very just also even still again ever never always often really quite much many lot lots
get gets got getting make makes made making take takes took go goes going went come comes came let lets
like know think thing things way ways want need say says said see use used using one two three four five six
seven eight nine ten eleven twelve twenty thirty forty fifty sixty seventy eighty ninety hundred thousand
million first next last today now follow subscribe ok okay yes yeah well hi hello
start starts started begin begins began wait waits look looks looked seem seems keep keeps kept try tries
tried feel feels felt put puts give gives gave show shows showed tell tells told find finds found call calls
become becomes became happen happens happened fill fills filled good great best better bad big small new old
sure right able lot kind sort part
""".split())
# Words that describe the medium, not the subject: dropped from footage keywords ("sunset shot" -> sunset).
MEDIA_WORDS = frozenset("shot image video clip photo picture footage showing view broll".split())


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


# a list run inline: "fixes: 1. Grind finer, 2. Weigh the dose", or cut off after its next number ("..., 2.").
# Items are numbered 1 to 9 and follow a separator and a space, so "costs 10, 20. Then" and a ratio
# ("1:2. Then") stay as they are.
LEADING_ITEM = re.compile(r"^\s*[1-9][.)]\s+(?=\w)")
INLINE_ITEM = re.compile(r"\s*[,;:]\s+[1-9][.)]\s+(\w)")
TRAILING_ITEM = re.compile(r"\s*[,;:]\s+[1-9][.)]\s*$")
PAREN_ITEM = re.compile(r"(?<=\s)[1-9]\)\s+(?=\w)")  # "grind and 3) water": a marker whatever precedes it


def unlisted(line: str) -> str:
    """LINE with its inline list turned into sentences: SmolLM2 writes "Three fixes: 1. Grind finer, 2.
    Weigh the dose, 3." on one line, which the voice read out as "one", "two" and the captions showed."""
    line = LEADING_ITEM.sub("", line)
    line = INLINE_ITEM.sub(lambda m: ". " + m.group(1).upper(), line)
    return PAREN_ITEM.sub("", TRAILING_ITEM.sub(".", line))


def title_key(title: str, language: str = "en") -> str:
    """Titles compared for near-duplicates: case, accents, punctuation and filler words removed."""
    plain = unicodedata.normalize("NFKD", title.casefold())
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    filler = stopwords(language)
    return " ".join(w for w in words(plain) if w not in filler)


def near_duplicate(a: str, b: str, threshold: float = 0.8) -> bool:
    """Same title in other words: character similarity or most content words shared."""
    ka, kb = title_key(a), title_key(b)
    if not ka or not kb:
        return ka == kb
    if SequenceMatcher(None, ka, kb).ratio() >= threshold:
        return True
    sa, sb = {stem(w) for w in ka.split()}, {stem(w) for w in kb.split()}
    return len(sa & sb) / len(sa | sb) >= 0.75


def shares_word(text_a: str, text_b: str) -> bool:
    """Whether A mentions a content word of B (compared on a 4-letter stem, so "espressos" meets "espresso")."""
    stems = {w[:4] for w in title_key(text_b).split() if len(w) > 2}
    return not stems or any(w[:4] in stems for w in title_key(text_a).split())


def stem(word: str, language: str = "en") -> str:
    """The one stemmer: in English a plural 's' dropped ("clouds" -> "cloud", "makes" -> "make"; "glass"
    stays), enough to equate the forms that titles, tags and file names mix; in other languages the
    language's Snowball stemmer ("cafés" -> "caf", "Bohnen" -> "bohn"), the word itself where there is none."""
    code = _base(language)
    if code != "en":
        stemmer = _stemmer(code)
        return stemmer.stemWord(word) if stemmer is not None else word
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def stems(value: str, shortest: int = 4, language: str = "en") -> set[str]:
    """Stems of VALUE's content words of at least SHORTEST letters, for "is this about the same thing"."""
    return {stem(w, language) for w in title_key(value, language).split() if len(w) >= shortest}


# --- other languages: stop words (stopwordsiso) and Snowball stemmers (snowballstemmer) ------------------

_SNOWBALL = {"ar": "arabic", "hy": "armenian", "eu": "basque", "ca": "catalan", "da": "danish", "nl": "dutch",
             "fi": "finnish", "fr": "french", "de": "german", "el": "greek", "hi": "hindi", "hu": "hungarian",
             "id": "indonesian", "ga": "irish", "it": "italian", "lt": "lithuanian", "ne": "nepali",
             "no": "norwegian", "nb": "norwegian", "pt": "portuguese", "ro": "romanian", "ru": "russian",
             "sr": "serbian", "es": "spanish", "sv": "swedish", "ta": "tamil", "tr": "turkish", "yi": "yiddish"}
_stopword_cache: dict[str, frozenset[str]] = {}
_stemmer_cache: dict[str, object] = {}


def _base(language: str | None) -> str:
    return str(language or "en").split("-")[0].lower()


def stopwords(language: str | None = "en") -> frozenset[str]:
    """Filler words of LANGUAGE: the list above for English, the stopwords-iso list (a maintained collection
    for some 60 languages) for the others, none for a language it lacks. English words never filter another
    language's text: "come" is a Spanish verb, "die" a German article, "once" Spanish for eleven."""
    code = _base(language)
    if code == "en":
        return STOPWORDS
    if code not in _stopword_cache:
        try:
            import stopwordsiso

            found = frozenset(stopwordsiso.stopwords(code)) if stopwordsiso.has_lang(code) else frozenset()
        except ImportError:
            found = frozenset()
        _stopword_cache[code] = found
    return _stopword_cache[code]


def _stemmer(code: str):
    if code not in _stemmer_cache:
        try:
            import snowballstemmer

            _stemmer_cache[code] = snowballstemmer.stemmer(_SNOWBALL[code]) if code in _SNOWBALL else None
        except (ImportError, KeyError):
            _stemmer_cache[code] = None
    return _stemmer_cache[code]


def guess_language(value: str, candidates: list[str]) -> str | None:
    """Which of CANDIDATES (base codes) VALUE reads as, by its share of each language's stop words; None
    when no candidate has at least three hits and a clear lead."""
    tokens = [w.casefold() for w in words(value)]
    if len(tokens) < 6:
        return None
    hits = {code: sum(1 for w in tokens if w in stopwords(code)) for code in dict.fromkeys(candidates)}
    ranked = sorted(hits.items(), key=lambda item: item[1], reverse=True)
    if not ranked or ranked[0][1] < 3 or (len(ranked) > 1 and ranked[0][1] < 1.5 * ranked[1][1]):
        return None
    return ranked[0][0]


def content_words(text: str, language: str = "en") -> list[str]:
    """Lower-case content words of TEXT in spoken order, each once, without filler words of its LANGUAGE,
    medium words and numbers (cs-visuals' shot queries and card phrases)."""
    found: list[str] = []
    filler = stopwords(language)
    for word in re.findall(r"\w+(?:['’]\w+)?", str(text or "").lower()):
        word = word.strip("_").replace("’", "'")
        if len(word) < 2 or word.isdigit() or word in MEDIA_WORDS:
            continue
        if word in filler or word.split("'")[0] in filler:
            continue
        if word not in found:
            found.append(word)
    return found


def keywords(value: str, language: str = "en") -> set[str]:
    """Lower-case search keywords of VALUE (letters and digits in any script), stemmed, without filler,
    medium words ("footage") or bare numbers."""
    found = set()
    filler = stopwords(language)
    for word in re.findall(r"\w+", str(value or "").lower()):
        word = word.strip("_")
        if len(word) < 2 or word in filler or word in MEDIA_WORDS or word.isdigit():
            continue
        found.add(stem(word, language))
    return found


# Words a phrase cannot end on: what follows them is missing ("Why should you start your day" ends a
# clause that was cut; "Espresso for" leaves its object out).
DANGLING = frozenset(
    "a an and the of to in on at by or for from with your you is are how why what this that my i it "
    "about after against as because before between but can could did do does during if into like nor not of "
    "our should so start than their them then these they those through till until was were when where which "
    "while who whom whose will would without".split())
_CLAUSE = re.compile(r"\s*(?:[,;:|()\[\]]|\s[-–—]\s|(?<=[.!?…])\s)\s*")


def phrase(value: str, limit: int) -> str:
    """VALUE in at most LIMIT characters as a complete phrase: whole when it fits; else its leading sentences
    or clauses that fit; else whole words with no dangling function word at the end. "" when not even one
    content word fits."""
    value = " ".join(str(value or "").split())
    if len(value) <= limit:
        return value
    pieces = [p for p in _CLAUSE.split(value) if p]
    kept = ""
    for piece in pieces:  # leading clauses, as long as they fit
        joined = f"{kept}{_joiner(value, kept, piece)}{piece}" if kept else piece
        if len(joined) > limit:
            break
        kept = joined
    if len(kept) >= limit // 3:
        return _trim_dangling(kept)
    return _trim_dangling(value[:limit + 1].rsplit(" ", 1)[0] if " " in value[:limit + 1] else "")


def _joiner(whole: str, head: str, piece: str) -> str:
    """The separator that stood between HEAD and PIECE in WHOLE (", " or ": " or " ")."""
    start = whole.find(piece, len(head))
    return whole[len(head):start] if start >= len(head) else " "


def _trim_dangling(value: str) -> str:
    tokens = value.rstrip(" ,;:-–—|(").split()
    while tokens and (tokens[-1].casefold().strip(".,;:!?'\"") in DANGLING or not any(c.isalnum() for c in tokens[-1])):
        tokens.pop()
    return " ".join(tokens).rstrip(" ,;:-–—|(")


def unique_sentences(value: str) -> str:
    """VALUE without a sentence that already appeared (compared without case, punctuation or spacing)."""
    seen: set[str] = set()
    kept = []
    for sentence in sentences(value):
        key = " ".join(w.casefold() for w in words(sentence))
        if key and key not in seen:
            seen.add(key)
            kept.append(sentence)
    return " ".join(kept)


# --- tags and other model words checked against a word list ---------------------------------------------

QUOTES_AND_BRACKETS = re.compile(r"[\"“”„«»‘’`´\[\]{}()<>]")
TAG_CHARS = re.compile(r"^[^\W_](?:[\w' -]*[^\W_])?$")


def repair_tag(tag: str) -> str:
    """A model's tag as words: quotes, brackets and stray punctuation removed, spaces single; "" when what
    is left has characters a tag cannot have (letters, digits, spaces, apostrophes and hyphens only)."""
    plain = QUOTES_AND_BRACKETS.sub(" ", tag.replace("\u2019", "'"))
    plain = " ".join(plain.split()).strip(" .,;:!?'-")
    return plain if TAG_CHARS.match(plain) and "_" not in plain else ""


def real_words(value: str, vocabulary: set[str]) -> bool:
    """Every word of VALUE is a word: in VOCABULARY (the record's own words, stemmed, and the system's word
    list when there is one) or a number; run-together strings such as "scienceblueamoviedshape" are not."""
    found = [w.casefold().strip("'-") for w in re.split(r"[\s-]+", value) if w.strip("'-")]
    return bool(found) and all(w.isdigit() or w in vocabulary or stem(w) in vocabulary
                               or stem(w.removesuffix("'s")) in vocabulary for w in found)


@once
def dictionary() -> set[str]:
    """/usr/share/dict/words, lower-cased and stemmed, when the system has it (else the record's own words
    are the only word list)."""
    try:
        with open("/usr/share/dict/words", encoding="utf-8", errors="replace") as handle:
            return {stem(line.strip().casefold()) for line in handle if line.strip()}
    except OSError:
        return set()
