"""Languages: BCP-47 tags, names for prompts, how a language is counted (words, or characters for scripts
written without spaces), which writing system it uses, and a cheap guess of the language a text is in.

cs-idea and cs-script take `--language` (env CS_LANGUAGE, default en); every later stage follows
`script.language` (or `captions.language`). Pure stdlib, cheap to import.
"""

from __future__ import annotations

import re
import unicodedata

from .core import config
from .errors import UsageError

ENV = config.variable("CS_LANGUAGE")
DEFAULT = "en"
TAG = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$")
# Written without spaces between words: budgets and caption lines count characters, not words.
SPACELESS = frozenset({"ja", "zh", "th", "lo", "km", "my", "bo"})
NAMES = {
    "en": "English", "es": "Spanish", "de": "German", "fr": "French", "it": "Italian", "pt": "Portuguese",
    "nl": "Dutch", "sv": "Swedish", "da": "Danish", "no": "Norwegian", "nb": "Norwegian", "fi": "Finnish",
    "pl": "Polish", "cs": "Czech", "ro": "Romanian", "hu": "Hungarian", "el": "Greek", "tr": "Turkish",
    "ru": "Russian", "uk": "Ukrainian", "ar": "Arabic", "he": "Hebrew", "fa": "Persian", "ur": "Urdu",
    "hi": "Hindi", "bn": "Bengali", "ta": "Tamil", "te": "Telugu", "mr": "Marathi", "gu": "Gujarati",
    "pa": "Punjabi", "th": "Thai", "vi": "Vietnamese", "id": "Indonesian", "ms": "Malay", "ja": "Japanese",
    "zh": "Chinese", "ko": "Korean", "sw": "Swahili",
}
# The writing system each language's text is in (fonts.script_of names); the rest write Latin letters.
SCRIPTS = {
    "ar": "arabic", "fa": "arabic", "ur": "arabic", "he": "hebrew", "hi": "devanagari", "mr": "devanagari",
    "ne": "devanagari", "bn": "bengali", "pa": "gurmukhi", "gu": "gujarati", "ta": "tamil", "te": "telugu",
    "th": "thai", "ja": "cjk", "zh": "cjk", "ko": "cjk", "ru": "cyrillic", "uk": "cyrillic", "bg": "cyrillic",
    "sr": "cyrillic", "el": "greek",
}


def canonical(value: str) -> str:
    """VALUE as a BCP-47 tag in its usual case ('pt-br' -> 'pt-BR', 'zh-hans' -> 'zh-Hans'); a language
    name from NAMES ('Spanish') gives its code. UsageError when it is neither."""
    value = str(value or "").strip().replace("_", "-")
    by_name = {name.lower(): code for code, name in NAMES.items()}
    if value.lower() in by_name:
        return by_name[value.lower()]
    if not TAG.match(value):
        raise UsageError(f"--language {value!r} is not a BCP-47 language tag; use one like en, es, pt-BR or zh-Hans")
    head, *rest = value.split("-")
    parts = [head.lower()]
    for part in rest:
        parts.append(part.upper() if len(part) == 2 else part.title() if len(part) == 4 else part.lower())
    return "-".join(parts)


def from_env(value: str | None) -> str:
    """The --language flag's value, else $CS_LANGUAGE, else en."""
    return canonical(value or config.get(ENV) or DEFAULT)


def base(tag: str | None) -> str:
    """The primary language subtag: 'pt-BR' -> 'pt'."""
    return str(tag or DEFAULT).split("-")[0].lower()


def name(tag: str | None) -> str:
    """An English name the LLM understands ('es' -> 'Spanish', 'pt-BR' -> 'Portuguese (BR)')."""
    tag = str(tag or DEFAULT)
    found = NAMES.get(base(tag))
    if not found:
        return tag
    region = tag.split("-")[1] if "-" in tag else ""
    return f"{found} ({region})" if region else found


def spaceless(tag: str | None) -> bool:
    return base(tag) in SPACELESS


def writing_system(tag: str | None) -> str:
    return SCRIPTS.get(base(tag), "latin")


def char_script(char: str) -> str | None:
    """The writing system of one letter (None for digits, spaces, punctuation)."""
    if not unicodedata.category(char)[0] in "LM":
        return None
    from .media import fonts

    found = fonts.script_of(char)
    if found == "latin":
        code = ord(char)
        if 0x0400 <= code <= 0x04FF:
            return "cyrillic"
        if 0x0370 <= code <= 0x03FF:
            return "greek"
    return found


def letters_by_script(text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for char in str(text or ""):
        script = char_script(char)
        if script:
            counts[script] = counts.get(script, 0) + 1
    return counts


def units(text: str, tag: str | None) -> int:
    """How long TEXT is in the unit its language is budgeted in: words, or for a spaceless script its
    letters (punctuation and spaces not counted)."""
    if spaceless(tag):
        return sum(1 for c in str(text or "") if unicodedata.category(c)[0] in "LMN")
    from . import text as textrules

    return textrules.word_count(str(text or ""))


def unit_name(tag: str | None) -> str:
    return "characters" if spaceless(tag) else "words"


def mismatch(text: str, tag: str | None) -> str | None:
    """Why TEXT is not in language TAG, or None when it may be: most of its letters are in another writing
    system, or (Latin-script languages) it reads as English while it claims another language, or the
    reverse. Cheap: a share of letters and of stop words, no model."""
    counts = letters_by_script(text)
    total = sum(counts.values())
    if total < 12:
        return None  # too short to say
    wanted = writing_system(tag)
    share = counts.get(wanted, 0) / total
    if base(tag) == "ja":  # kana are counted as cjk too
        share = counts.get("cjk", 0) / total
    if share < 0.5:
        main = max(counts, key=counts.get)
        return f"it claims {name(tag)} ({tag}) but {1 - share:.0%} of its letters are {main}"
    if wanted == "latin":
        from . import text as textrules

        guessed = textrules.guess_language(text, [base(tag), "en"])
        if guessed and guessed != base(tag):
            return f"it claims {name(tag)} ({tag}) but reads as {name(guessed)}"
    return None
