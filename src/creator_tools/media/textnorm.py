"""Text as it is spoken: numbers, money, percentages, symbols and abbreviations written out as words, so a
TTS voice reads "3.5%" as "three point five percent", and so captions can be matched word for word against
what whisper heard (whisper writes "3.5%" where the script may say "three point five percent").

English only; other languages pass through with symbols left alone. Pure stdlib, cheap to import.
"""

from __future__ import annotations

import re
import unicodedata

_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
         "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SCALES = [(10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand")]
_ORDINAL_IRREGULAR = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
                      "nine": "ninth", "twelve": "twelfth"}


def cardinal(n: int) -> str:
    """12345 -> 'twelve thousand three hundred forty-five'."""
    if n < 0:
        return "minus " + cardinal(-n)
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + (f"-{_ONES[ones]}" if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return f"{_ONES[hundreds]} hundred" + (f" {cardinal(rest)}" if rest else "")
    for scale, name in _SCALES:
        if n >= scale:
            head, rest = divmod(n, scale)
            return f"{cardinal(head)} {name}" + (f" {cardinal(rest)}" if rest else "")
    return " ".join(_ONES[int(d)] for d in str(n))  # beyond trillions: digit by digit


def ordinal(n: int) -> str:
    """21 -> 'twenty-first'."""
    words = cardinal(n)
    head, sep, last = words.rpartition("-") if "-" in words.split(" ")[-1] else words.rpartition(" ")
    if last in _ORDINAL_IRREGULAR:
        last = _ORDINAL_IRREGULAR[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return head + sep + last


def year(n: int) -> str:
    """2024 -> 'twenty twenty-four', 1905 -> 'nineteen oh five', 2000 -> 'two thousand'."""
    if 2000 <= n <= 2009:
        return cardinal(n)
    high, low = divmod(n, 100)
    if low == 0:
        return f"{cardinal(high)} hundred"
    return f"{cardinal(high)} " + (f"oh {cardinal(low)}" if low < 10 else cardinal(low))


def _plural(words: str) -> str:
    head, sep, last = words.rpartition("-") if "-" in words.split(" ")[-1] else words.rpartition(" ")
    return head + sep + (last[:-1] + "ies" if last.endswith("y") else last + "s")


def _digits(text: str) -> str:
    return " ".join(_ONES[int(d)] for d in text)


def number(text: str) -> str:
    """'1,250' -> 'one thousand two hundred fifty', '3.14' -> 'three point one four', '.5' -> 'point five'."""
    text = text.replace(",", "")
    whole, _, fraction = text.partition(".")
    spoken = cardinal(int(whole)) if whole.strip("-") else ""
    if whole.startswith("-") and not spoken.startswith("minus"):
        spoken = "minus " + spoken
    if fraction:
        spoken = (spoken + " point " + _digits(fraction)).strip()
    return spoken


_SCALE_WORDS = {"k": "thousand", "K": "thousand", "m": "million", "M": "million", "mn": "million", "b": "billion",
                "B": "billion", "bn": "billion", "t": "trillion", "T": "trillion"}
_CURRENCIES = {"$": ("dollar", "dollars", "cent", "cents"), "€": ("euro", "euros", "cent", "cents"),
               "£": ("pound", "pounds", "penny", "pence"), "¥": ("yen", "yen", "", ""), "₹": ("rupee", "rupees", "paisa", "paise")}
_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|(?<!\w)\.\d+"
_SCALE_TAIL = r"(?:\s?(k|K|mn|m|M|bn|b|B|T)\b|\s+(thousand|million|billion|trillion)\b)?"


def _money(match: re.Match) -> str:
    symbol, amount, short_scale, long_scale = match.group(1), match.group(2), match.group(3), match.group(4)
    one, many, sub_one, sub_many = _CURRENCIES[symbol]
    scale = _SCALE_WORDS.get(short_scale or "", long_scale or "")
    if scale:
        return f"{number(amount)} {scale} {many}"
    whole, _, cents = amount.replace(",", "").partition(".")
    spoken = f"{cardinal(int(whole))} {one if int(whole) == 1 else many}"
    if cents and sub_one and len(cents) <= 2 and int(cents):
        value = int(cents.ljust(2, "0"))
        cents_spoken = f"{cardinal(value)} {sub_one if value == 1 else sub_many}"
        spoken = f"{spoken} and {cents_spoken}" if int(whole) else cents_spoken
    elif cents and int(cents):
        spoken = f"{number(amount)} {many}"
    return spoken


ABBREVIATIONS = {
    "Dr.": "Doctor", "Mr.": "Mister", "Mrs.": "Missus", "Ms.": "Miz", "Prof.": "Professor", "Jr.": "Junior",
    "Sr.": "Senior", "vs.": "versus", "vs": "versus", "etc.": "et cetera", "e.g.": "for example",
    "i.e.": "that is", "approx.": "approximately", "Inc.": "Incorporated", "Ltd.": "Limited", "Mt.": "Mount",
    "Ave.": "Avenue", "Jan.": "January", "Feb.": "February", "Aug.": "August", "Sept.": "September",
    "Oct.": "October", "Nov.": "November", "Dec.": "December", "hrs": "hours", "mins": "minutes",
}
_ABBREVIATION_RE = re.compile(
    r"(?<![\w.])(" + "|".join(re.escape(k) for k in sorted(ABBREVIATIONS, key=len, reverse=True)) + r")(?=\W|$)"
)
_UNITS = {"km": "kilometers", "kg": "kilograms", "cm": "centimeters", "mm": "millimeters", "mph": "miles per hour",
          "kph": "kilometers per hour", "GB": "gigabytes", "MB": "megabytes", "TB": "terabytes", "KB": "kilobytes",
          "ms": "milliseconds", "fps": "frames per second", "x": "times", "X": "times", "h": "hours", "s": "seconds",
          "lbs": "pounds", "lb": "pounds", "oz": "ounces", "ft": "feet", "mi": "miles", "GHz": "gigahertz",
          "MHz": "megahertz", "kW": "kilowatts", "kWh": "kilowatt hours", "W": "watts", "V": "volts"}
_FRACTIONS = {"1/2": "one half", "1/3": "one third", "2/3": "two thirds", "1/4": "one quarter",
              "3/4": "three quarters", "24/7": "twenty-four seven"}
_SYMBOLS = [("&", " and "), ("+", " plus "), ("=", " equals "), ("@", " at "), ("%", " percent "),
            ("°", " degrees "), ("×", " times "), ("~", " about "), ("→", " to "), ("€", " euros "),
            ("£", " pounds "), ("$", " dollars "), ("#", " hashtag ")]


def _number_word(match: re.Match) -> str:
    text = match.group(0)
    plain = text.replace(",", "")
    if "." not in plain and "," not in text and len(plain) == 4 and 1100 <= int(plain) <= 2099:
        return year(int(plain))
    return number(text)


def normalize(text: str, language: str = "en") -> str:
    """The text as a speaker says it: '$20' -> 'twenty dollars', 'Dr.' -> 'Doctor', '3rd' -> 'third'."""
    if not (language or "en").lower().startswith("en"):
        return text
    t = text
    t = _ABBREVIATION_RE.sub(lambda m: ABBREVIATIONS[m.group(1)], t)
    t = re.sub(r"\bNo\.\s?(?=\d)", "number ", t)
    t = re.sub(r"(?<=[A-Za-z])(?=\d)", " ", t)  # "v1.2" -> "v 1.2", read as "v one point two"
    t = re.sub(r"#(\d+)", r"number \1", t)
    for written, spoken in _FRACTIONS.items():
        t = re.sub(rf"(?<![\d/]){re.escape(written)}(?![\d/])", spoken, t)
    t = re.sub(rf"([$€£¥₹])\s?({_NUM}){_SCALE_TAIL}", _money, t)
    t = re.sub(rf"({_NUM})\s?(?:%|percent\b)", lambda m: f"{number(m.group(1))} percent", t)
    t = re.sub(r"\b(\d+)\s?°\s?([CF])\b", lambda m: f"{number(m.group(1))} degrees "
               + ("Celsius" if m.group(2) == "C" else "Fahrenheit"), t)
    t = re.sub(r"\b(\d+)(st|nd|rd|th)\b", lambda m: ordinal(int(m.group(1))), t)
    t = re.sub(r"\b(1[1-9]\d\d|20\d\d)'?s\b", lambda m: _plural(year(int(m.group(1)))), t)
    t = re.sub(r"\b(\d{1,2}):(\d{2})\s?([AaPp])\.?[Mm]\.?(?=\W|$)",
               lambda m: _clock(m.group(1), m.group(2)) + (" a m" if m.group(3) in "Aa" else " p m"), t)
    t = re.sub(r"\b(\d{1,2}):(\d{2})\b", lambda m: _clock(m.group(1), m.group(2)), t)
    t = re.sub(r"\b(\d+)\s?([AaPp])\.?[Mm]\.?(?=\W|$)",
               lambda m: cardinal(int(m.group(1))) + (" a m" if m.group(2) in "Aa" else " p m"), t)
    t = re.sub(rf"(?<![\w.])({_NUM})\s?(k|K|M|bn|B)\b",
               lambda m: f"{number(m.group(1))} {_SCALE_WORDS[m.group(2)]}", t)
    # Single-letter units only when glued to the number ("5s", "10x"): "I have 2 s..." is not seconds.
    long_units = "|".join(sorted((u for u in _UNITS if len(u) > 1), key=len, reverse=True))
    short_units = "".join(u for u in _UNITS if len(u) == 1)
    t = re.sub(rf"(?<![\w.])({_NUM})(?:\s?({long_units})|([{short_units}]))\b",
               lambda m: f"{number(m.group(1))} {_UNITS[m.group(2) or m.group(3)]}", t)
    t = re.sub(r"(?<![\w.])(\d+)\s?[-–]\s?(\d+)(?![\w.])", lambda m: f"{_num(m.group(1))} to {_num(m.group(2))}", t)
    t = re.sub(r"(?<![\w.])(\d+)/(\d+)(?![\w.])", lambda m: f"{number(m.group(1))} out of {number(m.group(2))}", t)
    t = re.sub(r"\band/or\b", "and or", t)
    t = re.sub(r"(?<=[A-Za-z])/(?=[A-Za-z])", " or ", t)
    t = re.sub(rf"(?<![\w])-({_NUM})", lambda m: "minus " + number(m.group(1)), t)
    t = re.sub(rf"(?<![\d]){_NUM}", _number_word, t)
    for symbol, spoken in _SYMBOLS:
        t = t.replace(symbol, spoken)
    return re.sub(r"[ \t]{2,}", " ", t).strip()


def _num(text: str) -> str:
    return year(int(text)) if len(text) == 4 and 1100 <= int(text) <= 2099 else number(text)


def _clock(hours: str, minutes: str) -> str:
    h, m = int(hours), int(minutes)
    if m == 0:
        return f"{cardinal(h)} o'clock"
    return f"{cardinal(h)} " + (f"oh {cardinal(m)}" if m < 10 else cardinal(m))


def tokens(text: str, language: str = "en") -> list[str]:
    """Lower-case spoken words, for matching: "It's 3.5%!" -> ['its', 'three', 'point', 'five', 'percent']."""
    spoken = normalize(text, language).lower().replace("-", " ")
    return [w for w in (re.sub(r"[^\w]", "", part) for part in spoken.split()) if w]


def script_segments(script: dict) -> list[str]:
    """The text spoken for each script segment; the call to action joins the last segment unless that
    segment already says it (cs-voice speaks these, cs-caption shows them)."""
    texts = [str(segment.get("text") or "").strip() for segment in script.get("segments") or []]
    cta = str(script.get("cta") or "").strip()
    if cta and texts and " ".join(cta.lower().split()) not in " ".join(texts[-1].lower().split()):
        texts[-1] = f"{texts[-1]} {cta}".strip()
    elif cta and not texts:
        texts = [cta]
    return texts


def invisible_only(text: str) -> list[str]:
    """The code points ("U+202E") of TEXT when it is not empty but holds nothing a voice could say or a
    caption show: only format characters (U+200B zero-width space, U+202E right-to-left override, U+FEFF),
    controls and spaces, which str.strip() keeps. [] for ordinary text and for "" (an intended pause)."""
    if not text or any(unicodedata.category(c)[0] not in "CZ" for c in text):
        return []
    return list(dict.fromkeys(f"U+{ord(c):04X}" for c in text if not c.isspace()))
