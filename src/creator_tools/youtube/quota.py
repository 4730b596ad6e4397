"""YouTube Data API quota: each call's cost in one table, and the units spent per Pacific-time day (the API's
quota resets at midnight America/Los_Angeles) kept in the ledger database, so a run stops before it would
go over the daily budget instead of failing halfway through an upload."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from ..errors import QuotaDeferred
from . import ledger

DEFAULT_BUDGET = 10_000  # units a day for every method outside the two buckets below
DEFAULT_UPLOADS = 100  # videos.insert calls a day
DEFAULT_SEARCHES = 100  # search.list calls a day

# The cost of each call and the bucket it draws on, the one table of them in the toolkit (cs-stats adds its
# calls here too). Source: https://developers.google.com/youtube/v3/determine_quota_cost, read 2026-11-28:
# "search.list and videos.insert have their own quota buckets ... a default daily limit of 100 per day. The
# quota cost is 1 per call", beside 10,000 units a day combined for all other methods.
BUCKETS = ("units", "uploads", "searches")
COSTS: dict[str, tuple[str, int]] = {
    "channels.list": ("units", 1),
    "videos.list": ("units", 1),
    "videos.insert": ("uploads", 1),
    "videos.update": ("units", 50),
    "thumbnails.set": ("units", 50),
    "captions.list": ("units", 50),
    "captions.insert": ("units", 400),
    "playlists.list": ("units", 1),
    "playlists.insert": ("units", 50),
    "playlistItems.list": ("units", 1),
    "playlistItems.insert": ("units", 50),
    "search.list": ("searches", 1),
    "reports.query": ("units", 0),  # YouTube Analytics API: not charged against the Data API quota
}
# What raises each bucket's budget, for the deferral messages: cs-publish --quota / --uploads-per-day (cs-stats
# --quota). The searches bucket is YouTube's fixed 100 a day: no option raises it.
OPTIONS = {"units": "--quota", "uploads": "--uploads-per-day"}


def cost(call: str) -> tuple[str, int]:
    """(bucket, units) of one call; an unknown method costs 1 unit, as the quota page says of any request."""
    return COSTS.get(call, ("units", 1))


def need(*calls: str) -> dict[str, int]:
    """The units per bucket that the given calls spend together."""
    out: dict[str, int] = {}
    for call in calls:
        bucket, units = cost(call)
        out[bucket] = out.get(bucket, 0) + units
    return {b: n for b, n in out.items() if n}


def describe(need: dict[str, int]) -> str:
    return ", ".join(f"{n} {'units' if b == 'units' else b}" for b, n in need.items()) or "nothing"


def pacific_day(now: float | None = None) -> str:
    """The quota day (YYYY-MM-DD) in America/Los_Angeles."""
    when = dt.datetime.fromtimestamp(now if now is not None else time.time(), dt.timezone.utc)
    try:
        from zoneinfo import ZoneInfo

        return when.astimezone(ZoneInfo("America/Los_Angeles")).date().isoformat()
    except Exception:  # no tz database: PST is close enough to pick the day
        return (when - dt.timedelta(hours=8)).date().isoformat()


# A hold left by a publisher killed mid-record stops counting after this long (an upload of many GB takes hours).
HOLD_TTL_S = 6 * 3600


class Quota:
    """Calls spent today by one Google Cloud project (quota belongs to the OAuth client's project, keyed here
    by client id), per bucket, against each bucket's daily budget. `reserve` writes a hold for a record in
    flight, under a lock shared through the ledger database, so parallel records (-j) and publishers on
    other machines (a PostgreSQL ledger) cannot all pass the check and overrun together."""

    def __init__(self, project: str, budget: int = DEFAULT_BUDGET, path: str | Path | None = None,
                 uploads: int = DEFAULT_UPLOADS, searches: int = DEFAULT_SEARCHES):
        self.project = project
        self.budgets = {"units": budget, "uploads": uploads, "searches": searches}
        self.path = path

    @property
    def budget(self) -> int:
        return self.budgets["units"]

    @property
    def db(self) -> "ledger.Database":
        return ledger.connect(self.path)

    def spent(self, bucket: str = "units") -> int:
        # Unknown call names cost units (cost() says so): "units" is every call outside the other buckets.
        inside = [c for c, (b, _) in COSTS.items() if b == bucket]
        calls = [c for c in COSTS if c not in inside] if bucket == "units" else inside
        test = "NOT IN" if bucket == "units" else "IN"
        row = self.db.execute(
            f"SELECT COALESCE(SUM(units), 0) FROM spend WHERE project=? AND day=? AND call {test} ({','.join('?' * len(calls))})",
            (self.project, pacific_day(), *calls)).fetchone()
        return int(row[0])

    def held(self, bucket: str = "units") -> int:
        row = self.db.execute("SELECT COALESCE(SUM(units), 0) FROM holds WHERE project=? AND day=? AND bucket=? AND at>?",
                              (self.project, pacific_day(), bucket, time.time() - HOLD_TTL_S)).fetchone()
        return int(row[0])

    def left(self, bucket: str = "units") -> int:
        return self.budgets[bucket] - self.spent(bucket) - self.held(bucket)

    def charge(self, call: str) -> None:
        bucket, units = cost(call)
        if units:
            self.db.execute("INSERT INTO spend (day, project, at, call, units) VALUES (?,?,?,?,?)",
                            (pacific_day(), self.project, time.time(), call, units))

    def short(self, need: dict[str, int]) -> str | None:
        """Why `need` does not fit today (naming the bucket and the option that raises it), or None."""
        for bucket, units in need.items():
            left = self.left(bucket)
            if units > left:
                what = ("quota units" if bucket == "units" else
                        f"calls of the {bucket} bucket ({'videos.insert' if bucket == 'uploads' else 'search.list'})")
                return (f"needs {units} {what} but {max(left, 0)} of the daily {self.budgets[bucket]} are left "
                        f"(the day ends at midnight Pacific time); re-run tomorrow"
                        + (f" or raise {OPTIONS[bucket]}" if bucket in OPTIONS else ""))
        return None

    def reserve(self, need: dict[str, int] | int, what: str) -> "Reservation":
        """Check and hold in one locked transaction: the check-and-spend that many publishers share."""
        import uuid

        need = {"units": need} if isinstance(need, int) else need
        hold = uuid.uuid4().hex
        with self.db.transaction(lock=f"quota:{self.project}"):
            problem = self.short(need)
            if problem:
                raise QuotaDeferred(problem)  # the driver names the record
            for bucket, units in need.items():
                self.db.execute("INSERT INTO holds (id, project, day, bucket, units, at) VALUES (?,?,?,?,?,?)",
                                (f"{hold}:{bucket}", self.project, pacific_day(), bucket, units, time.time()))
        return Reservation(self, hold)


class Reservation:
    def __init__(self, quota: Quota, hold: str):
        self.quota, self.hold = quota, hold

    def release(self) -> None:
        """Drop the hold: what the record spent is in `spend` by now."""
        self.quota.db.execute("DELETE FROM holds WHERE id LIKE ?", (f"{self.hold}:%",))

    def __enter__(self) -> "Reservation":
        return self

    def __exit__(self, *exc) -> None:
        self.release()
