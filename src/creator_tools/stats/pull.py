"""`cs-stats pull`: the channel's uploads and their numbers from the YouTube Data API v3 and the YouTube
Analytics API v2, upserted into the stats store, joined with what cs-publish recorded about each video.

Calls, in order (Data API units in brackets, charged to cs-publish's quota ledger):
  channels.list mine [1] -> the uploads playlist
  playlistItems.list [1 per 50 videos] -> every video id
  videos.list snippet,contentDetails,statistics,fileDetails [1 per 50 videos] -> title, description, tags,
    publish time, length, frame shape, counts
  reports.query dimensions=day -> the channel per day
  reports.query dimensions=video, sort=-views -> which videos had views in the range
  reports.query dimensions=day, filters=video==ID -> each such video per day
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Iterable

from .. import log
from ..errors import QuotaDeferred, UsageError
from ..records import Record
from .store import Store

METRICS = "views,estimatedMinutesWatched,averageViewDuration,averageViewPercentage,likes,subscribersGained"
REVISE_DAYS = 3  # YouTube revises the last days' numbers: an incremental pull fetches them again
FIRST_PULL_DAYS = 28


@dataclass
class Summary:
    since: str
    until: str
    videos: int = 0
    with_views: int = 0
    daily_rows: int = 0
    channel_rows: int = 0
    published_rows: int = 0
    units: int = 0

    def line(self, store_url: str) -> str:
        from ..core.db import is_postgres

        where = "PostgreSQL" if is_postgres(store_url) else store_url
        return (f"pulled {self.videos} videos ({self.with_views} with views), {self.daily_rows} video-days and "
                f"{self.channel_rows} channel-days for {self.since}..{self.until} into {where}; "
                f"{self.published_rows} joined with cs-publish records; {self.units} Data API units")


def iso_duration_s(text: str | None) -> float | None:
    """ISO 8601 duration (PT1H2M3S, P1DT2M) -> seconds."""
    match = re.fullmatch(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?", text or "")
    if not match or not text or text in ("P", "PT"):
        return None
    days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return days * 86400 + hours * 3600 + minutes * 60 + seconds


def shape(video: dict) -> str | None:
    """'vertical', 'horizontal' or 'square' from fileDetails (returned to the channel's owner), else None."""
    streams = (video.get("fileDetails") or {}).get("videoStreams") or []
    if not streams or not streams[0].get("widthPixels") or not streams[0].get("heightPixels"):
        return None
    width, height = int(streams[0]["widthPixels"]), int(streams[0]["heightPixels"])
    return "vertical" if height > width else "horizontal" if width > height else "square"


def video_row(video: dict, fetched: str) -> dict:
    """A `videos` row from a videos.list resource: what recommend needs for videos cs-publish never saw."""
    snippet, stats = video.get("snippet") or {}, video.get("statistics") or {}
    return {"video_id": video["id"], "title": snippet.get("title"), "published_at": snippet.get("publishedAt"),
            "duration_s": iso_duration_s((video.get("contentDetails") or {}).get("duration")),
            "view_count": int(stats.get("viewCount") or 0), "like_count": int(stats.get("likeCount") or 0),
            "comment_count": int(stats.get("commentCount") or 0), "fetched_at": fetched,
            "description": snippet.get("description") or None,
            "tags": json.dumps(snippet["tags"], ensure_ascii=False) if snippet.get("tags") else None,
            "shape": shape(video)}


def date_range(store: Store, since: str | None, until: str | None, today: dt.date) -> tuple[str, str]:
    """Explicit dates, else from a few days before the last stored day (YouTube revises recent days), else
    the last 28 days."""
    end = dt.date.fromisoformat(until) if until else today
    if since:
        start = dt.date.fromisoformat(since)
    else:
        last = store.day_range()[1]
        start = (dt.date.fromisoformat(last) - dt.timedelta(days=REVISE_DAYS)) if last else end - dt.timedelta(days=FIRST_PULL_DAYS - 1)
    if start > end:
        raise UsageError(f"--since {start} is after --until {end}; pick a start on or before the end")
    return start.isoformat(), end.isoformat()


def published_from_records(records: Iterable[Record]) -> list[dict]:
    """Rows for the `published` table from cs-publish output records (those with a `youtube` key)."""
    rows = []
    for record in records:
        youtube = record.get("youtube") or {}
        if not youtube.get("video_id"):
            continue
        meta, voice, thumb = record.get("meta") or {}, record.get("voice") or {}, record.get("thumb")
        rows.append({
            "video_id": youtube["video_id"], "record_id": record.get("id"), "topic": record.get("topic"),
            "format": record.get("format"), "title": meta.get("title") or record.get("title"),
            "hook": record.get("hook"), "length_s": voice.get("duration_s") or (record.get("video") or {}).get("duration_s"),
            "publish_at": meta.get("publish_at") or youtube.get("publish_at"),
            "thumb": thumb.get("path") if isinstance(thumb, dict) else thumb,
        })
    return rows


def published_from_ledger(video_ids: set[str]) -> list[dict]:
    """What cs-publish's upload ledger knows about these videos: the `youtube` key it returned and, where
    the ledger keeps it, the published record itself (topic, format, hook...)."""
    from ..core.db import sqlite_path
    from ..youtube import ledger

    url = ledger.default_url()  # $CS_DB: the ledger cs-publish writes, a PostgreSQL one included
    path = sqlite_path(url)
    if path is not None and not path.exists():
        return []
    db = ledger.connect(url, readonly=True)  # cs-publish's ledger: read as it is, never migrated from here
    wanted = ["video_id", "youtube", "path", "record"]
    rows = []
    for values in db.execute(f"SELECT {', '.join(wanted)} FROM uploads WHERE video_id IS NOT NULL").fetchall():
        row = dict(zip(wanted, values))
        if row["video_id"] not in video_ids:
            continue
        record = json.loads(row["record"]) if row.get("record") else {}
        record["youtube"] = {**(json.loads(row["youtube"]) if row["youtube"] else {}), "video_id": row["video_id"]}
        rows += published_from_records([record])
    return rows


class Puller:
    """One pull: API clients, the quota ledger and the store."""

    def __init__(self, store: Store, endpoint: str | None, token_option: str | None, budget: int):
        from ..youtube import auth, client, quota

        self.store, self.client = store, client
        self.token = auth.load_token(token_option)
        client.refresh(self.token)
        self.quota = quota.Quota(self.token.client_id, budget)
        self.endpoint = endpoint
        self.youtube = client.build_service("youtube", "v3", endpoint, self.token.credentials)
        self.units = 0
        self._local = threading.local()  # httplib2 connections are not thread-safe: one service per thread
        self._lock = threading.Lock()

    @property
    def analytics(self) -> Any:
        if not hasattr(self._local, "service"):
            self._local.service = self.client.build_service("youtubeAnalytics", "v2", self.endpoint,
                                                            self.token.credentials)
        return self._local.service

    def call(self, request: Any, name: str) -> dict:
        from ..youtube.quota import cost as call_cost

        bucket, cost = call_cost(name)
        if cost and self.quota.left(bucket) < cost:
            raise QuotaDeferred(f"{name} needs {cost} quota units but the daily budget of {self.quota.budget} is "
                                f"spent (it resets at midnight Pacific time); re-run tomorrow or raise --quota")
        result = self.client.execute(request, name, quota=self.quota, token=self.token)
        with self._lock:
            self.units += cost
        return result

    def uploads(self) -> tuple[str, list[dict]]:
        """(channel id, video resources) for every upload."""
        channels = self.call(self.youtube.channels().list(part="id,contentDetails", mine=True), "channels.list")
        if not channels.get("items"):
            from ..errors import ConfigError

            raise ConfigError("the token's account has no YouTube channel; authorize with the channel's account")
        channel = channels["items"][0]
        playlist = channel["contentDetails"]["relatedPlaylists"]["uploads"]
        ids, page = [], None
        while True:
            paging = {"pageToken": page} if page else {}
            answer = self.call(self.youtube.playlistItems().list(part="contentDetails", playlistId=playlist,
                                                                 maxResults=50, **paging), "playlistItems.list")
            ids += [item["contentDetails"]["videoId"] for item in answer.get("items", [])]
            page = answer.get("nextPageToken")
            if not page:
                break
        videos = []
        for start in range(0, len(ids), 50):
            answer = self.call(self.youtube.videos().list(part="snippet,contentDetails,statistics,fileDetails",
                                                          id=",".join(ids[start:start + 50])), "videos.list")
            videos += answer.get("items", [])
        return channel["id"], videos

    def report(self, since: str, until: str, **params: Any) -> list[dict]:
        """reports.query rows as dicts keyed by column name, every page."""
        rows, index = [], 1
        while True:
            request = self.analytics.reports().query(ids="channel==MINE", startDate=since, endDate=until,
                                                     metrics=METRICS, startIndex=index, **params)
            answer = self.call(request, "reports.query")
            names = [h["name"] for h in answer.get("columnHeaders", [])]
            page = [dict(zip(names, row)) for row in answer.get("rows") or []]
            rows += page
            size = params.get("maxResults")
            if not size or len(page) < size:
                return rows
            index += size


def _metrics(row: dict) -> tuple:
    return (int(row.get("views") or 0), float(row.get("estimatedMinutesWatched") or 0),
            float(row.get("averageViewDuration") or 0), float(row.get("averageViewPercentage") or 0),
            int(row.get("likes") or 0), int(row.get("subscribersGained") or 0))


def pull(store: Store, *, endpoint: str | None, token_option: str | None, budget: int, since: str | None,
         until: str | None, records: Iterable[Record] = (), today: dt.date | None = None, jobs: int = 4) -> Summary:
    start, end = date_range(store, since, until, today or dt.datetime.now(dt.timezone.utc).date())
    puller = Puller(store, endpoint, token_option, budget)
    summary = Summary(start, end)
    try:
        _channel_id, videos = puller.uploads()
        fetched = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        rows = [video_row(v, fetched) for v in videos]
        summary.videos = store.upsert_videos(rows)
        ids = {v["id"] for v in videos}
        published = published_from_ledger(ids) + [r for r in published_from_records(records) if r["video_id"] in ids]
        summary.published_rows = store.upsert_published(published)
        channel = puller.report(start, end, dimensions="day", sort="day")
        summary.channel_rows = store.upsert_channel_daily((r["day"],) + _metrics(r) for r in channel)
        top = puller.report(start, end, dimensions="video", sort="-views", maxResults=200)
        watched = [r["video"] for r in top if r["video"] in ids and int(r.get("views") or 0) > 0]
        summary.with_views = len(watched)
        def by_day(video_id: str) -> list[dict]:
            return puller.report(start, end, dimensions="day", filters=f"video=={video_id}", sort="day")

        # Queries run on `jobs` threads; the store is written from this thread only, a video at a time.
        with log.progress("videos", total=len(watched)) as bar, ThreadPoolExecutor(max(1, jobs)) as pool:
            for video_id, days in zip(watched, pool.map(by_day, watched)):
                summary.daily_rows += store.upsert_daily((video_id, r["day"]) + _metrics(r) for r in days)
                bar(advance=1)
        store.log_pull(fetched, start, end, summary.videos, summary.daily_rows, summary.channel_rows)
    finally:
        summary.units = puller.units
        puller.token.save_if_refreshed()
    return summary
