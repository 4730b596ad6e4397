"""The record's `meta` key checked against YouTube's limits and turned into a videos.insert body."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from ..errors import BadInput

PRIVACY = ("public", "unlisted", "private")
LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
THUMBNAIL_MAX = 2 * 1024 * 1024


def tags_length(tags: list[str]) -> int:
    """YouTube's count for the 500-character tag limit: a tag with a space counts its quotes, and the commas
    between tags count too."""
    return sum(len(t) + (2 if " " in t else 0) for t in tags) + max(len(tags) - 1, 0)


def parse_time(value: str) -> dt.datetime:
    """An ISO-8601 time; one without a zone is taken as UTC."""
    when = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def rfc3339(when: dt.datetime) -> str:
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def chapter_lines(chapters: Any) -> list[str]:
    """`0:00 Intro` lines from [{start, title}] (start in seconds or "m:ss"); YouTube reads them from the
    description when the first is at 0:00."""
    lines = []
    for chapter in chapters or []:
        if not isinstance(chapter, dict) or not chapter.get("title"):
            continue
        start = chapter.get("start", chapter.get("start_s", 0))
        if isinstance(start, (int, float)):
            minutes, seconds = divmod(int(start), 60)
            hours, minutes = divmod(minutes, 60)
            start = f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
        lines.append(f"{start} {chapter['title']}")
    return lines


def validate(meta: Any, *, now: dt.datetime | None = None, scheduled: bool = True) -> None:
    """BadInput naming the first field that YouTube would refuse."""
    if not isinstance(meta, dict):
        raise BadInput("'meta' is not an object; run cs-meta again")
    title = meta.get("title")
    if not isinstance(title, str) or not title.strip():
        raise BadInput("meta.title is empty; run cs-meta again or set a title")
    if len(title) > 100 or "<" in title or ">" in title:
        raise BadInput(f"meta.title has {len(title)} characters or a < or >; YouTube allows 100 and no angle brackets")
    description = description_text(meta)
    if len(description.encode("utf-8")) > 5000 or "<" in description or ">" in description:
        raise BadInput(f"meta.description (with chapters) is {len(description.encode())} bytes or has a < or >; "
                       f"YouTube allows 5000 bytes and no angle brackets")
    tags = meta.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise BadInput("meta.tags must be a list of strings")
    if tags_length(tags) > 500 or any("<" in t or ">" in t for t in tags):
        raise BadInput(f"meta.tags count {tags_length(tags)} characters; YouTube allows 500 (drop some tags)")
    category = meta.get("category_id")
    if category is not None and not str(category).isdigit():
        raise BadInput(f"meta.category_id {category!r} is not a YouTube category number (22 is People & Blogs)")
    privacy = meta.get("privacy") or "private"
    if privacy not in PRIVACY:
        raise BadInput(f"meta.privacy {privacy!r} is not one of {', '.join(PRIVACY)}")
    language = meta.get("language")
    if language and not LANGUAGE.match(str(language)):
        raise BadInput(f"meta.language {language!r} is not a language code like en or en-US")
    for flag in ("made_for_kids", "synthetic_media"):
        if meta.get(flag) is not None and not isinstance(meta[flag], bool):
            raise BadInput(f"meta.{flag} must be true or false")
    if meta.get("publish_at") and scheduled:
        try:
            when = parse_time(str(meta["publish_at"]))
        except ValueError:
            raise BadInput(f"meta.publish_at {meta['publish_at']!r} is not an ISO-8601 time") from None
        if when <= (now or dt.datetime.now(dt.timezone.utc)):
            raise BadInput(f"meta.publish_at {meta['publish_at']} is in the past; set a future time or remove it")


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
    snippet["categoryId"] = str(meta.get("category_id") or "22")
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
