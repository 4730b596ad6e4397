"""Per-video window reports: totals over a window of days and deltas against the window before it."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from ..errors import UsageError
from ..records import new_id
from .store import Store


@dataclass(frozen=True)
class Window:
    start: str
    end: str
    days: int

    @property
    def previous(self) -> "Window":
        start = _day(self.start) - dt.timedelta(days=self.days)
        return Window(start.isoformat(), (_day(self.start) - dt.timedelta(days=1)).isoformat(), self.days)

    def as_dict(self) -> dict:
        return {"start": self.start, "end": self.end, "days": self.days}


def _day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


MAX_DAYS = 36_525  # a century: more than any channel's history, and date arithmetic stays in range
FIRST_YEAR, LAST_YEAR = 2005, 2999  # YouTube began in 2005; beyond LAST_YEAR no window or delta fits


def parse_days(text: str) -> int:
    """'7d', '4w', '28' -> days."""
    match = re.fullmatch(r"\s*(\d{1,9})\s*([dw]?)\s*", text or "")
    days = int(match.group(1)) * (7 if match.group(2) == "w" else 1) if match else 0
    if not match or days < 1:
        raise UsageError(f"bad window '{text}'; use a number of days like 7d, 28d or 4w")
    if days > MAX_DAYS:
        raise UsageError(f"--window {text.strip()} is longer than {MAX_DAYS} days; for everything stored, "
                         "give --since alone with the first day you want")
    return days


def parse_date(text: str, flag: str = "--since") -> str:
    """YYYY-MM-DD between FIRST_YEAR and LAST_YEAR; a date before YouTube existed means its first day."""
    try:
        day = dt.date.fromisoformat(text)
    except (TypeError, ValueError):
        raise UsageError(f"bad date '{text}' for {flag}; use YYYY-MM-DD") from None
    if day.year > LAST_YEAR:
        raise UsageError(f"{flag} {text} is after {LAST_YEAR}; use a date in YouTube's lifetime")
    return max(day, dt.date(FIRST_YEAR, 1, 1)).isoformat()


DEFAULT_DAYS = 7


def choose_window(store: Store, since: str | None, days: int | None) -> Window | None:
    """The window, as `git log --since` and `journalctl --since` read it: `since` alone runs from that day to
    the last stored day; `days` alone is that many days ending at the last stored day; both give `days` days
    from `since`; neither, the last 7 stored days. None when nothing is stored."""
    first, last = store.day_range()
    if last is None:
        return None
    if since and days:
        end = _day(since) + dt.timedelta(days=days - 1)
    elif since:
        end = max(_day(last), _day(since))  # a day after the last stored one: that single day, empty
    else:
        end = _day(last)
        since = (end - dt.timedelta(days=(days or DEFAULT_DAYS) - 1)).isoformat()
    return Window(since, end.isoformat(), (end - _day(since)).days + 1)


def _num(value) -> float:
    return float(value) if value is not None else 0.0  # PostgreSQL sums come back as Decimal


def _stats_side(side: tuple | None) -> dict:
    views, minutes, pct_weighted, likes, subs, _days = (_num(v) for v in (side or (0,) * 6))
    return {
        "views": int(views),
        "watch_minutes": round(minutes, 1),
        "avg_view_s": round(minutes * 60 / views, 1) if views else 0.0,
        "avg_view_pct": round(pct_weighted / views, 1) if views else 0.0,
        "likes": int(likes),
        "subs_gained": int(subs),
    }


def video_record_id(video: dict) -> str:
    """The cs-publish record's id when known, so report records line up with the pipeline's records."""
    return video.get("record_id") or new_id("youtube", video["video_id"])


def build(store: Store, window: Window) -> list[dict]:
    """One record per stored video, best first by views in the window: {id, title, topic, format, stats}."""
    previous = window.previous
    totals = store.window_totals(previous.start, window.start, window.end)
    records = []
    for video in store.videos():
        sides = totals.get(video["video_id"], {})
        current, before = _stats_side(sides.get("current")), _stats_side(sides.get("previous"))
        delta = {k: round(current[k] - before[k], 1) if isinstance(current[k], float) else current[k] - before[k]
                 for k in current}
        delta["views_pct"] = round(100.0 * (current["views"] - before["views"]) / before["views"], 1) if before["views"] else None
        delta["previous"] = previous.as_dict()
        stats = {"video_id": video["video_id"], **current, "window": window.as_dict(), "delta": delta}
        record = {"id": video_record_id(video), "title": video.get("title") or video.get("api_title")}
        for key in ("topic", "format"):
            if video.get(key):
                record[key] = video[key]
        record["stats"] = stats
        records.append(record)
    records.sort(key=lambda r: (-r["stats"]["views"], r["stats"]["video_id"]))
    return records


def table(records: list[dict], window: Window, series: dict[str, list[tuple]], limit: int | None) -> "object":
    """A rich Table: one row per video with a sparkline of views per day."""
    from rich.table import Table

    from .plot import sparkline

    title = f"cs-stats: {window.start} .. {window.end} ({window.days} d) vs the {window.days} days before"
    out = Table(title=title, title_justify="left")
    for name, justify in (("video", "left"), ("title", "left"), ("views", "right"), ("Δ views", "right"),
                          ("watch min", "right"), ("avg view", "right"), ("ret %", "right"), ("likes", "right"),
                          ("subs", "right"), ("views/day", "left")):
        out.add_column(name, justify=justify, no_wrap=name != "title", overflow="ellipsis", max_width=40 if name == "title" else None)
    shown = records if not limit else records[:limit]
    for record in shown:
        s = record["stats"]
        days = [v for _, v, _ in series.get(s["video_id"], [])]
        change = s["delta"]["views"]
        pct = s["delta"]["views_pct"]
        change_text = f"{change:+,}" + (f" ({pct:+.0f}%)" if pct is not None else "")
        style = "green" if change > 0 else "red" if change < 0 else ""
        out.add_row(s["video_id"], record.get("title") or "", f"{s['views']:,}", f"[{style}]{change_text}[/]" if style else change_text,
                    f"{s['watch_minutes']:,.0f}", f"{s['avg_view_s']:.0f} s", f"{s['avg_view_pct']:.0f}",
                    f"{s['likes']:,}", f"{s['subs_gained']:+,}", sparkline(days))
    if limit and len(records) > limit:
        out.caption = f"{len(records) - limit} more videos not shown (--limit)"
    return out
