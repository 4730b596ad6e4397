"""YouTube Data API quota: each call's cost in one table, and the units spent per Pacific-time day (the API's
quota resets at midnight America/Los_Angeles) kept in the ledger database, so a run stops before it would
go over the daily budget instead of failing halfway through an upload."""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

from ..errors import QuotaDeferred
from . import ledger

DEFAULT_BUDGET = 10_000

# Units per call, from the YouTube Data API quota calculator
# (https://developers.google.com/youtube/v3/determine_quota_cost). cs-stats adds its calls here too.
COSTS: dict[str, int] = {
    "channels.list": 1,
    "videos.list": 1,
    "videos.insert": 1600,
    "videos.update": 50,
    "thumbnails.set": 50,
    "captions.list": 50,
    "captions.insert": 400,
    "playlists.list": 1,
    "playlists.insert": 50,
    "playlistItems.list": 1,
    "playlistItems.insert": 50,
    "search.list": 100,
    "reports.query": 0,  # YouTube Analytics API: not charged against the Data API quota
}


def pacific_day(now: float | None = None) -> str:
    """The quota day (YYYY-MM-DD) in America/Los_Angeles."""
    when = dt.datetime.fromtimestamp(now if now is not None else time.time(), dt.timezone.utc)
    try:
        from zoneinfo import ZoneInfo

        return when.astimezone(ZoneInfo("America/Los_Angeles")).date().isoformat()
    except Exception:  # no tz database: PST is close enough to pick the day
        return (when - dt.timedelta(hours=8)).date().isoformat()


class Quota:
    """Units spent today by one Google Cloud project (quota belongs to the OAuth client's project, keyed here
    by client id), against a daily `budget`. `reserve` holds units for a record in flight so parallel
    records (-j) cannot all pass the check and overrun together."""

    def __init__(self, project: str, budget: int = DEFAULT_BUDGET, path: Path | None = None):
        self.project = project
        self.budget = budget
        self.path = path
        self._held = 0
        self._lock = threading.Lock()

    def spent(self) -> int:
        row = ledger.connect(self.path).execute(
            "SELECT COALESCE(SUM(units), 0) FROM spend WHERE project=? AND day=?", (self.project, pacific_day())
        ).fetchone()
        return int(row[0])

    def left(self) -> int:
        return self.budget - self.spent() - self._held

    def charge(self, call: str) -> None:
        units = COSTS.get(call, 1)
        if units:
            ledger.connect(self.path).execute(
                "INSERT INTO spend (day, project, at, call, units) VALUES (?,?,?,?,?)",
                (pacific_day(), self.project, time.time(), call, units),
            )

    def reserve(self, units: int, what: str) -> "Reservation":
        with self._lock:
            left = self.budget - self.spent() - self._held
            if units > left:
                raise QuotaDeferred(
                    f"{what} needs {units} quota units but {max(left, 0)} of the daily {self.budget} are left "
                    f"(the day ends at midnight Pacific time); re-run tomorrow or raise --quota"
                )
            self._held += units
        return Reservation(self, units)


class Reservation:
    def __init__(self, quota: Quota, units: int):
        self.quota, self.units = quota, units

    def release(self) -> None:
        with self.quota._lock:
            self.quota._held -= self.units
            self.units = 0

    def __enter__(self) -> "Reservation":
        return self

    def __exit__(self, *exc) -> None:
        self.release()
