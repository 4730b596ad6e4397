"""The record's `meta` key checked against YouTube's limits and turned into a videos.insert body."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from .. import youtube_limits as limits
from ..errors import BadInput
from ..youtube_limits import parse_time, rfc3339, timestamp

THUMBNAIL_MAX = 2 * 1024 * 1024
DEFAULT_CATEGORY = "22"  # People & Blogs, YouTube's own default


def chapter_lines(chapters: Any) -> list[str]:
    """`0:00 Intro` lines from [{start, title}] (start in seconds or "m:ss"); YouTube reads them from the
    description when the first is at 0:00."""
    lines = []
    for chapter in chapters or []:
        if not isinstance(chapter, dict) or not chapter.get("title"):
            continue
        start = chapter.get("start", chapter.get("start_s", 0))
        if isinstance(start, (int, float)):
            start = timestamp(start)
        lines.append(f"{start} {chapter['title']}")
    return lines


def validate(meta: Any, *, now: dt.datetime | None = None, scheduled: bool = True) -> None:
    """BadInput listing every field YouTube would refuse (the rules live once, in youtube_limits). Fields
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
    problems = limits.violations(filled, now=now)
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
