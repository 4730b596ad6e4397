"""The YouTube Analytics API v2 `reports.query` for the loopback YouTube test server (tests/youtube_server.py),
so cs-stats is tested against the protocol google-api-python-client really speaks.

    server = YouTubeServer(tmp_path)
    analytics = Analytics.install(server)          # GET /v2/reports, needs an analytics or readonly scope
    video_id = analytics.add_video("Sourdough", published_at="2024-05-01T15:00:00Z", duration="PT45S")
    analytics.fill(video_id, "2024-05-01", "2024-05-28", views=120)   # a daily series, deterministic
    server.start()

What it answers, as the real API does (developers.google.com/youtube/analytics/reference/reports/query):
- `ids=channel==MINE` (or the channel's id), `startDate`/`endDate` (YYYY-MM-DD, start <= end), `metrics`
  from the ones cs-stats asks for, `dimensions` = `day` (one row per day, summed over the filtered videos),
  `video` (one row per video; needs `sort` and `maxResults` <= 200) or none (one total row), `filters`
  `video==ID[,ID...]`, `sort` (`day`, `-views`...), `maxResults`, `startIndex` (1-based).
- Days without views are left out, as YouTube leaves them out of day reports.
- Errors in Google's JSON shape: 400 badRequest for unknown metrics, bad dates, unsupported dimension sets.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from typing import Any

from youtube_server import ApiError, Request, Response, YouTubeServer

SCOPES = {"https://www.googleapis.com/auth/yt-analytics.readonly",
          "https://www.googleapis.com/auth/youtube.readonly", "https://www.googleapis.com/auth/youtube"}
INTEGER = {"views", "estimatedMinutesWatched", "averageViewDuration", "likes", "subscribersGained",
           "subscribersLost", "comments", "shares"}
FLOAT = {"averageViewPercentage"}


def _day(text: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except (TypeError, ValueError):
        raise ApiError(400, "badRequest", f"Invalid value '{text}' for {name}; expected YYYY-MM-DD.", "global") from None


class Analytics:
    """Daily per-video numbers: {video_id: {day: {views, minutes, pct, likes, subs}}}."""

    def __init__(self, server: YouTubeServer):
        self.server = server
        self.days: dict[str, dict[str, dict[str, float]]] = {}
        self.lock = threading.RLock()
        self.queries: list[dict[str, str]] = []

    @classmethod
    def install(cls, server: YouTubeServer) -> "Analytics":
        analytics = cls(server)
        server.route("GET", r"/v2/reports", analytics.query, scopes=SCOPES)
        return analytics

    # --- state for tests --------------------------------------------------------------------------------
    def add_video(self, title: str, *, published_at: str, duration: str = "PT1M", statistics: dict | None = None,
                  **snippet) -> str:
        """A video on the channel, listed in its uploads playlist like an uploaded one (`snippet`:
        description, tags, size, as YouTubeState.add_video takes them)."""
        state = self.server.state
        video_id = state.add_video(title, published_at=published_at, duration=duration, statistics=statistics, **snippet)
        with state.lock:
            if video_id not in state.playlist_video_ids(state.uploads_playlist):
                item_id = "UUitem" + secrets.token_hex(6)
                state.playlist_items[item_id] = self.server._playlist_item(item_id, state.uploads_playlist, video_id)
        return video_id

    def set(self, video_id: str, day: str, *, views: int, seconds: float = 30.0, pct: float = 50.0,
            likes: int | None = None, subs: int | None = None) -> None:
        """One day of one video: `seconds` is the average view duration, `pct` the average % viewed."""
        with self.lock:
            self.days.setdefault(video_id, {})[day] = {
                "views": views, "minutes": views * seconds / 60.0, "pct": pct,
                "likes": views // 20 if likes is None else likes, "subs": views // 100 if subs is None else subs}

    def fill(self, video_id: str, start: str, end: str, *, views: int, seconds: float = 30.0, pct: float = 50.0,
             decay: float = 1.0) -> None:
        """A series from START to END: `views` on the first day, times `decay` each day after."""
        day, last, value = dt.date.fromisoformat(start), dt.date.fromisoformat(end), float(views)
        while day <= last:
            self.set(video_id, day.isoformat(), views=int(round(value)), seconds=seconds, pct=pct)
            day += dt.timedelta(days=1)
            value *= decay

    def total(self, video_id: str) -> int:
        return sum(int(d["views"]) for d in self.days.get(video_id, {}).values())

    # --- the endpoint -----------------------------------------------------------------------------------
    def query(self, req: Request) -> Response:
        q = req.query
        with self.lock:
            self.queries.append(dict(q))
        channel = self.server.state.channel["id"]
        if q.get("ids") not in ("channel==MINE", f"channel=={channel}"):
            raise ApiError(403, "forbidden", "Forbidden", "global")
        start, end = _day(q.get("startDate"), "startDate"), _day(q.get("endDate"), "endDate")
        if start > end:
            raise ApiError(400, "badRequest", "The start date must be on or before the end date.", "global")
        metrics = [m for m in (q.get("metrics") or "").split(",") if m]
        unknown = [m for m in metrics if m not in INTEGER | FLOAT]
        if not metrics or unknown:
            raise ApiError(400, "badRequest", f"Unknown identifier ({','.join(unknown) or 'metrics'}) given in field parameters.metrics.", "global")
        dimensions = [d for d in (q.get("dimensions") or "").split(",") if d]
        if dimensions not in ([], ["day"], ["video"]):
            raise ApiError(400, "badRequest", "The query is not supported. Check the documentation for supported queries.", "global")
        videos = self._filtered(q.get("filters") or "")
        max_results = int(q.get("maxResults") or 0)
        if dimensions == ["video"] and (not q.get("sort") or not 0 < max_results <= 200):
            raise ApiError(400, "badRequest", "The query is not supported: video reports need sort and maxResults <= 200.", "global")
        groups: dict[Any, list[dict]] = {}
        with self.lock:
            for video_id in videos:
                for day, numbers in self.days.get(video_id, {}).items():
                    if start.isoformat() <= day <= end.isoformat() and numbers["views"] > 0:
                        key = day if dimensions == ["day"] else video_id if dimensions == ["video"] else None
                        groups.setdefault(key, []).append(numbers)
        rows = [([key] if dimensions else []) + [self._metric(m, parts) for m in metrics] for key, parts in groups.items()]
        rows = self._sorted(rows, q.get("sort") or "", dimensions, metrics)
        first = max(int(q.get("startIndex") or 1), 1) - 1
        rows = rows[first:first + max_results] if max_results else rows[first:]
        headers = [{"name": d, "columnType": "DIMENSION", "dataType": "STRING"} for d in dimensions]
        headers += [{"name": m, "columnType": "METRIC", "dataType": "FLOAT" if m in FLOAT else "INTEGER"} for m in metrics]
        return Response.json({"kind": "youtubeAnalytics#resultTable", "columnHeaders": headers, "rows": rows})

    def _filtered(self, filters: str) -> list[str]:
        if not filters:
            return list(self.days)
        name, _, values = filters.partition("==")
        if name != "video" or not values:
            raise ApiError(400, "badRequest", f"Unsupported filter '{filters}'.", "global")
        return [v for v in values.split(",") if v]

    @staticmethod
    def _metric(name: str, parts: list[dict]) -> int | float:
        views = sum(p["views"] for p in parts)
        minutes = sum(p["minutes"] for p in parts)
        if name == "views":
            return int(views)
        if name == "estimatedMinutesWatched":
            return int(round(minutes))
        if name == "averageViewDuration":
            return int(round(minutes * 60 / views)) if views else 0
        if name == "averageViewPercentage":
            return round(sum(p["pct"] * p["views"] for p in parts) / views, 2) if views else 0.0
        if name == "likes":
            return int(sum(p["likes"] for p in parts))
        if name == "subscribersGained":
            return int(sum(p["subs"] for p in parts))
        return 0

    @staticmethod
    def _sorted(rows: list[list], sort: str, dimensions: list[str], metrics: list[str]) -> list[list]:
        columns = dimensions + metrics
        for key in reversed([k for k in sort.split(",") if k]):
            name = key.lstrip("-")
            if name not in columns:
                raise ApiError(400, "badRequest", f"Sort key '{name}' is not a dimension or metric of the query.", "global")
            rows.sort(key=lambda row, i=columns.index(name): row[i], reverse=key.startswith("-"))
        return rows
