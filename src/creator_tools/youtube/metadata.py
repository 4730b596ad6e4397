"""A video's metadata and YouTube's limits on it, in one place: what a title, description, tags, chapters,
schedule and category may be, a check that lists every violation, repairs that make text fit (cs-meta),
and the record's `meta` turned into a videos.insert body (cs-publish).

Sources: the Data API `videos` resource (title <= 100 characters, description <= 5000 bytes, no `<` or `>`,
tags <= 500 characters counted with commas and with quotes around tags that contain a space,
`status.publishAt` only for private videos) and YouTube Help on chapters (the first at 0:00, at least three,
each at least 10 seconds) and hashtags (more than 60 and all are ignored).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Iterable

from .. import text
from ..errors import BadInput
from ..schemas import describe

TITLE_MAX_CHARS = 100
DESCRIPTION_MAX_BYTES = 5000
TAGS_MAX_CHARS = 500
TAG_MAX_CHARS = 100  # no single tag longer than this makes sense; it would eat a fifth of the budget
HASHTAGS_MAX = 60
CHAPTERS_MIN = 3
CHAPTER_MIN_SECONDS = 10
PRIVACY = ("private", "unlisted", "public")
LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
HASHTAG = re.compile(r"(?<![\w&])#(\w+)")
THUMBNAIL_MAX = 50 * 1024 * 1024  # thumbnails.set takes up to 50 MB since 2026-09-14 (it was 2 MB)
# The category when none is given, for cs-meta's --category and for a record cs-publish gets without one:
# Education, because what the toolkit writes are explainers ("what the viewer learns"); one default, so a
# record gets the same category whichever command filled it in (YouTube's own default would be 22).
DEFAULT_CATEGORY = "27"

# The categories a video can be put in (videoCategories.list, assignable=true, the same in every region).
CATEGORIES = {
    "1": "Film & Animation", "2": "Autos & Vehicles", "10": "Music", "15": "Pets & Animals", "17": "Sports",
    "19": "Travel & Events", "20": "Gaming", "22": "People & Blogs", "23": "Comedy", "24": "Entertainment",
    "25": "News & Politics", "26": "Howto & Style", "27": "Education", "28": "Science & Technology",
    "29": "Nonprofits & Activism",
}
_ALIASES = {"film": "1", "animation": "1", "autos": "2", "cars": "2", "vehicles": "2", "pets": "15", "animals": "15",
            "travel": "19", "events": "19", "people": "22", "blogs": "22", "vlog": "22", "howto": "26", "style": "26",
            "science": "28", "technology": "28", "tech": "28", "news": "25", "politics": "25", "nonprofits": "29",
            "activism": "29"}


def _squash(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.casefold().replace("&", "and"))


def category_id(value: str | int) -> str:
    """A category number from a number or a name ("27", "education", "Science & Technology", "howto");
    ValueError naming the choices otherwise."""
    text = str(value).strip()
    if text in CATEGORIES:
        return text
    wanted = _squash(text)
    for number, name in CATEGORIES.items():
        if wanted and wanted in (_squash(name), _squash(name.replace("&", ""))):
            return number
    if wanted in _ALIASES:
        return _ALIASES[wanted]
    choices = ", ".join(f"{n} {name}" for n, name in CATEGORIES.items())
    raise ValueError(f"unknown category {text!r}; use a number or name: {choices}")


# --- counting -------------------------------------------------------------------------------------------


def tags_length(tags: Iterable[str]) -> int:
    """YouTube's count for the 500-character limit: tags joined with commas, and a tag with a space counts
    two more for the quotes YouTube puts around it."""
    tags = list(tags)
    return sum(len(t) + (2 if " " in t else 0) for t in tags) + max(len(tags) - 1, 0)


def timestamp(seconds: float) -> str:
    """0:00, 1:05, 1:02:03: the form YouTube turns into chapter links."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def chapter_lines(chapters: Any) -> list[str]:
    """`0:00 Intro` lines from [{start, title}] (start in seconds or "m:ss"); YouTube reads them from the
    description when the first is at 0:00. Entries without a title are left out."""
    lines = []
    for chapter in chapters or []:
        if not isinstance(chapter, dict) or not chapter.get("title"):
            continue
        start = chapter.get("start", chapter.get("start_s", 0))
        if isinstance(start, (int, float)):
            start = timestamp(start)
        lines.append(f"{start} {chapter['title']}")
    return lines


# --- times ----------------------------------------------------------------------------------------------

_RELATIVE = re.compile(r"^\+(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$")
_DAY = re.compile(r"^(today|tomorrow)(?:\s+(?:at\s+)?(\d{1,2})(?::(\d{2}))?)?$")


def parse_time(value: str) -> dt.datetime:
    """An RFC 3339 / ISO 8601 time. A time without a zone is the machine's local time: such times come only
    from a person (an option, a hand-edited record), who means the wall clock, as "tomorrow 17:00" does;
    everything this toolkit writes carries its zone (rfc3339 writes UTC with Z). ValueError otherwise."""
    when = dt.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00").replace("z", "+00:00"))
    return when if when.tzinfo else when.astimezone()


def resolve_time(value: str, now: dt.datetime | None = None) -> dt.datetime:
    """A schedule given as RFC 3339 ("2030-05-01T17:00:00+02:00"; no zone means local time), relative to now
    ("+2d", "+1d6h", "+90m", "+1w") or a day and local time ("tomorrow 17:00", "today 9:30", "tomorrow").
    ValueError when it is none of these."""
    now = now or dt.datetime.now(dt.timezone.utc)
    text = " ".join(str(value).strip().lower().split())
    relative = _RELATIVE.match(text)
    if relative and any(relative.groups()):
        weeks, days, hours, minutes = (int(g or 0) for g in relative.groups())
        try:  # "+3000000d" is past year 9999: a bad value, not an OverflowError traceback
            return now + dt.timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes)
        except OverflowError:
            raise ValueError(f"{value!r} is too far ahead (past the year 9999); give a nearer time") from None
    day = _DAY.match(text)
    if day:
        local = now.astimezone()
        date = local.date() + dt.timedelta(days=1 if day.group(1) == "tomorrow" else 0)
        if day.group(2) is None:
            clock = local.time().replace(second=0, microsecond=0)
        else:
            clock = dt.time(int(day.group(2)), int(day.group(3) or 0))
        return dt.datetime.combine(date, clock, tzinfo=local.tzinfo)
    try:
        return parse_time(value)
    except OverflowError:  # 9999-12-31T23:59 in a zone east of UTC
        raise ValueError(f"{value!r} is too far ahead (past the year 9999); give a nearer time") from None
    except ValueError:
        raise ValueError(f"{value!r} is not a time; use RFC 3339 (2030-05-01T17:00:00Z), +2d, +3h, "
                         "or 'tomorrow 17:00'") from None


def rfc3339(when: dt.datetime) -> str:
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- repairs --------------------------------------------------------------------------------------------


def strip_brackets(text: str) -> str:
    return text.replace("<", "").replace(">", "")


def fit_title(value: str) -> str:
    """One line without < or >, at most 100 characters: cut at a sentence, clause or word boundary with no
    dangling clause ("... Why should you start your day" loses the unfinished question)."""
    value = " ".join(strip_brackets(value or "").split())
    if len(value) <= TITLE_MAX_CHARS:
        return value
    return text.phrase(value, TITLE_MAX_CHARS) or value[:TITLE_MAX_CHARS].rstrip()


def fit_bytes(text: str, limit: int) -> str:
    """TEXT cut at a word boundary (ending in "…") so its UTF-8 form is at most LIMIT bytes."""
    if len(text.encode("utf-8")) <= limit:
        return text
    room = limit - len("…".encode("utf-8"))
    cut = text.encode("utf-8")[:max(room, 0)].decode("utf-8", "ignore")
    cut = cut.rsplit(" ", 1)[0] if " " in cut else cut
    return cut.rstrip(" ,;:-–—") + "…"


def clean_tag(tag: str) -> str:
    """A tag as YouTube takes it: no < > , # quotes or underscores, single spaces, not too long."""
    tag = re.sub(r'[<>,#"_]', " ", str(tag))
    tag = " ".join(tag.split()).strip(" .;:-'")
    return tag if len(tag) <= TAG_MAX_CHARS else ""


def fit_tags(tags: Iterable[str], budget: int = TAGS_MAX_CHARS) -> list[str]:
    """Clean, de-duplicated tags, in order, dropping any that would take the total over the budget."""
    kept: list[str] = []
    seen: set[str] = set()
    for raw in tags:
        tag = clean_tag(raw)
        key = tag.casefold()
        if not tag or key in seen:
            continue
        if tags_length(kept + [tag]) <= budget:
            kept.append(tag)
            seen.add(key)
    return kept


_words = text.words  # hashtag's parameter is named `text`


def hashtag(text: str) -> str:
    """"home espresso" -> "#HomeEspresso"; "" when nothing usable is left."""
    # text.words keeps the vowel signs of Indic scripts ("#कॉफी", not "#कफ"); a hashtag has no ' or -.
    parts = [p for w in _words(text or "") for p in re.split(r"['’-]+", w) if p]
    word = "".join(p[:1].upper() + p[1:] for p in parts)
    return f"#{word}" if word and not word.isdigit() and len(word) <= 40 else ""


def build_chapters(spans: list[tuple[float, float]], titles: list[str], duration: float) -> list[dict]:
    """Chapters from timed segments: each starts where a segment starts (the first at 0:00); a segment too
    short for a chapter of its own joins the one before. [] when fewer than 3 chapters of 10 s or more fit
    in DURATION. Starts are whole seconds, as the description shows them."""
    chapters: list[dict] = []
    for (start, _end), title in zip(spans, titles):
        second = 0 if not chapters else int(start)
        if chapters and second - chapters[-1]["start"] < CHAPTER_MIN_SECONDS:
            continue  # the previous chapter is still too short: this segment joins it
        chapters.append({"start": second, "title": title})
    while len(chapters) > 1 and int(duration) - chapters[-1]["start"] < CHAPTER_MIN_SECONDS:
        chapters.pop()  # the last one runs too short: it joins the chapter before
    return chapters if len(chapters) >= CHAPTERS_MIN else []


# --- the check ------------------------------------------------------------------------------------------


def violations(meta: Any, *, now: dt.datetime | None = None, duration_s: float | None = None) -> list[str]:
    """Every way META breaks YouTube's rules, one message per problem ("field: what is wrong; what to do");
    [] when YouTube would take it as it is."""
    if not isinstance(meta, dict):
        return ["meta: not an object; run cs-meta --force"]
    found: list[str] = []
    found += _title(meta.get("title"))
    found += _description(meta.get("description"))
    found += _tags(meta.get("tags"))
    found += _chapters(meta.get("chapters"), meta.get("description"), duration_s)
    category = meta.get("category_id")
    if str(category) not in CATEGORIES:
        found.append(f"category_id: {describe(category)} is not a category a video can have; use one of "
                     + ", ".join(CATEGORIES))
    privacy = meta.get("privacy")
    if privacy not in PRIVACY:
        found.append(f"privacy: {describe(privacy)} is not one of {', '.join(PRIVACY)}")
    language = meta.get("language")
    if language is not None and not (isinstance(language, str) and LANGUAGE.match(language)):
        found.append(f"language: {describe(language)} is not a language code such as en or pt-BR")
    for flag in ("made_for_kids", "synthetic_media"):
        if not isinstance(meta.get(flag), bool):
            found.append(f"{flag}: must be true or false (YouTube needs an explicit answer), got {describe(meta.get(flag))}")
    playlist = meta.get("playlist")
    if playlist is not None and not (isinstance(playlist, str) and playlist.strip()):
        found.append(f"playlist: {describe(playlist)} is not a playlist name or id; use a string or null")
    found += _publish_at(meta.get("publish_at"), privacy, now)
    return found


def _title(title: Any) -> list[str]:
    if not isinstance(title, str) or not title.strip():
        return ["title: empty; YouTube needs a title"]
    found = []
    if len(title) > TITLE_MAX_CHARS:
        found.append(f"title: {len(title)} characters; YouTube allows {TITLE_MAX_CHARS}")
    if "<" in title or ">" in title:
        found.append("title: contains < or >, which YouTube refuses; remove them")
    return found


def _description(description: Any) -> list[str]:
    if description is None:
        return []
    if not isinstance(description, str):
        return ["description: not a string"]
    found = []
    size = len(description.encode("utf-8"))
    if size > DESCRIPTION_MAX_BYTES:
        found.append(f"description: {size} bytes; YouTube allows {DESCRIPTION_MAX_BYTES} (UTF-8)")
    if "<" in description or ">" in description:
        found.append("description: contains < or >, which YouTube refuses; remove them")
    count = len(HASHTAG.findall(description))
    if count > HASHTAGS_MAX:
        found.append(f"description: {count} hashtags; with more than {HASHTAGS_MAX} YouTube ignores them all")
    return found


def _tags(tags: Any) -> list[str]:
    if tags is None:
        return []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        return ["tags: must be a list of strings"]
    found = []
    total = tags_length(tags)
    if total > TAGS_MAX_CHARS:
        found.append(f"tags: {total} characters as YouTube counts them (commas and quotes included); "
                     f"YouTube allows {TAGS_MAX_CHARS}: drop some tags")
    for tag in tags:
        if not tag.strip():
            found.append("tags: an empty tag; remove it")
        elif re.search(r"[<>,]", tag):
            found.append(f"tags: {describe(tag)} contains < > or a comma; remove them")
    return found


def _chapters(chapters: Any, description: Any, duration_s: float | None) -> list[str]:
    if not chapters:
        return []
    if not isinstance(chapters, list) or not all(
            isinstance(c, dict) and isinstance(c.get("start"), (int, float)) and isinstance(c.get("title"), str)
            for c in chapters):
        return ["chapters: must be a list of {start (seconds), title}"]
    found = []
    if chapters[0]["start"] != 0:
        found.append(f"chapters: the first starts at {timestamp(chapters[0]['start'])}; YouTube needs 0:00")
    if len(chapters) < CHAPTERS_MIN:
        found.append(f"chapters: {len(chapters)} of them; YouTube needs at least {CHAPTERS_MIN} (or none)")
    ends = [c["start"] for c in chapters[1:]] + ([duration_s] if duration_s else [])
    for chapter, end in zip(chapters, ends):
        if end - chapter["start"] < CHAPTER_MIN_SECONDS:
            found.append(f"chapters: {timestamp(chapter['start'])} {describe(chapter['title'])} lasts {end - chapter['start']:.0f} s; "
                         f"each needs at least {CHAPTER_MIN_SECONDS} s")
    for chapter in chapters:
        if not chapter["title"].strip() or "<" in chapter["title"] or ">" in chapter["title"]:
            found.append(f"chapters: title {describe(chapter['title'])} at {timestamp(chapter['start'])} is empty or has < >")
    if isinstance(description, str) and description.strip():
        missing = [line for line in chapter_lines(chapters) if line not in description.splitlines()]
        if missing:
            found.append(f"chapters: the description lacks the line {describe(missing[0])}; YouTube reads chapters "
                         "from the description")
    return found


def _publish_at(value: Any, privacy: Any, now: dt.datetime | None) -> list[str]:
    if value is None:
        return []
    try:
        when = parse_time(str(value))
    except ValueError:
        return [f"publish_at: {describe(value)} is not an RFC 3339 time such as 2030-05-01T17:00:00Z"]
    found = []
    current = now or dt.datetime.now(dt.timezone.utc)
    if when <= current:
        found.append(f"publish_at: {value} is in the past; give a future time or remove it")
    if privacy != "private":
        found.append(f"publish_at: set with privacy {describe(privacy)}; YouTube schedules only private videos")
    return found


# --- the videos.insert body (cs-publish) ----------------------------------------------------------------


def validate(meta: Any, *, now: dt.datetime | None = None, scheduled: bool = True) -> None:
    """BadInput listing every field YouTube would refuse. Fields
    cs-publish fills in itself (privacy, category, flags) are checked with those defaults; SCHEDULED=False
    leaves publish_at out (a preflight of an upload that is already scheduled)."""
    if not isinstance(meta, dict):
        raise BadInput("'meta' is not an object; run cs-meta again")
    filled = {"privacy": "private", "category_id": DEFAULT_CATEGORY, "made_for_kids": False, "synthetic_media": False,
              **{key: value for key, value in meta.items() if value is not None}}
    filled["category_id"] = str(filled["category_id"])
    filled["description"] = description_text(meta)
    if filled.get("publish_at"):
        filled["privacy"] = "private"  # video_body forces it: YouTube schedules private videos
    if not scheduled:
        filled.pop("publish_at", None)
    problems = violations(filled, now=now)
    if problems:
        raise BadInput("meta breaks YouTube's rules: " + "; ".join(problems) + " (fix it or run cs-meta --force)")


def description_text(meta: dict) -> str:
    description = str(meta.get("description") or "")
    lines = chapter_lines(meta.get("chapters"))
    if lines and not re.search(r"(^|\n)0?0:00\b", description):
        description = (description.rstrip() + "\n\n" if description.strip() else "") + "\n".join(lines)
    return description


def video_body(meta: dict) -> dict:
    """The videos.insert resource. publish_at forces private: YouTube publishes a scheduled video by
    switching a private one to public at that time."""
    snippet: dict[str, Any] = {"title": meta["title"].strip(), "description": description_text(meta)}
    if meta.get("tags"):
        snippet["tags"] = meta["tags"]
    snippet["categoryId"] = str(meta.get("category_id") or DEFAULT_CATEGORY)
    if meta.get("language"):
        snippet["defaultLanguage"] = meta["language"]
        snippet["defaultAudioLanguage"] = meta["language"]
    status: dict[str, Any] = {"privacyStatus": meta.get("privacy") or "private"}
    if meta.get("publish_at"):
        status["privacyStatus"] = "private"
        status["publishAt"] = rfc3339(parse_time(str(meta["publish_at"])))
    status["selfDeclaredMadeForKids"] = bool(meta.get("made_for_kids", False))
    if meta.get("synthetic_media") is not None:
        status["containsSyntheticMedia"] = bool(meta["synthetic_media"])
    return {"snippet": snippet, "status": status}


def image_kind(path: str) -> str | None:
    """'image/jpeg' or 'image/png' from the file's first bytes, else None."""
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    return None
