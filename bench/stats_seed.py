"""Fill a stats store with a synthetic channel: N videos x D days of daily rows, written straight into the
store (no API), for benchmarking `cs-stats report` and `recommend`.

    python bench/stats_seed.py --db /tmp/stats.sqlite --videos 1000 --days 365

Topics have different pull (a multiplier), so `recommend` has something real to find.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import time

from creator_tools.stats.store import Store

TOPICS = {"sourdough": 2.5, "espresso": 1.6, "knife skills": 1.2, "meal prep": 1.0, "fermentation": 0.8,
          "cast iron": 0.7, "baking soda": 0.5, "budget dinners": 0.4}
HOOKS = ["Why does your bread go flat?", "3 mistakes everyone makes", "You are doing this wrong",
         "This changes everything"]


def seed(db: str, videos: int, days: int, end: dt.date, rng: random.Random) -> tuple[int, float]:
    store = Store(db)
    first = end - dt.timedelta(days=days - 1)
    meta, published, rows = [], [], []
    for n in range(videos):
        video_id = f"v{n:010d}"
        topic = rng.choice(list(TOPICS))
        short = rng.random() < 0.4
        length = rng.uniform(20, 59) if short else rng.uniform(180, 900)
        day = first + dt.timedelta(days=rng.randrange(days))
        hour = rng.choice([6, 9, 12, 15, 17, 20])
        stamp = f"{day.isoformat()}T{hour:02d}:00:00Z"
        meta.append({"video_id": video_id, "title": f"{topic.title()} #{n}", "published_at": stamp,
                     "duration_s": round(length, 1), "view_count": 0, "like_count": 0, "comment_count": 0,
                     "fetched_at": end.isoformat()})
        published.append({"video_id": video_id, "record_id": f"rec{n:09d}", "topic": topic,
                          "format": "short" if short else "long", "title": f"{topic.title()} #{n}",
                          "hook": rng.choice(HOOKS), "length_s": round(length, 1), "publish_at": stamp})
        base = 200 * TOPICS[topic] * (1.5 if short else 1.0) * rng.lognormvariate(0, 0.5)
        for age in range((end - day).days + 1):
            views = int(base * (0.85 ** age + 0.05) * rng.uniform(0.7, 1.3))
            pct = min(100.0, (70 if short else 45) * rng.uniform(0.8, 1.2))
            seconds = length * pct / 100
            rows.append((video_id, (day + dt.timedelta(days=age)).isoformat(), views, round(views * seconds / 60, 2),
                         round(seconds, 1), round(pct, 1), views // 25, views // 200))
    return store_all(store, meta, published, rows)  # no rows before publication: YouTube reports none


def store_all(store, meta: list, published: list, rows: list) -> tuple[int, float]:
    """Upsert the generated channel; return (daily rows, seconds the upserts took)."""
    started = time.perf_counter()
    store.upsert_videos(meta)
    store.upsert_published(published)
    store.upsert_daily(rows)
    seconds = time.perf_counter() - started
    store.close()
    return len(rows), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--videos", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--end", default="2024-12-31")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--full", action="store_true", help="a row for every video on every day (videos x days)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    end = dt.date.fromisoformat(args.end)
    if args.full:
        rows, seconds = seed_full(args.db, args.videos, args.days, end, rng)
    else:
        rows, seconds = seed(args.db, args.videos, args.days, end, rng)
    print(f"seeded {rows} daily rows for {args.videos} videos in {seconds:.1f} s")


def seed_full(db: str, videos: int, days: int, end: dt.date, rng: random.Random) -> tuple[int, float]:
    """Every video published before the first day, so the store holds exactly videos x days rows."""
    first = end - dt.timedelta(days=days - 1)
    store = Store(db)
    meta, published, rows = [], [], []
    for n in range(videos):
        video_id = f"v{n:010d}"
        topic = rng.choice(list(TOPICS))
        short = rng.random() < 0.4
        length = rng.uniform(20, 59) if short else rng.uniform(180, 900)
        stamp = f"{(first - dt.timedelta(days=1 + rng.randrange(30))).isoformat()}T{rng.choice([9, 15, 20]):02d}:00:00Z"
        meta.append({"video_id": video_id, "title": f"{topic.title()} #{n}", "published_at": stamp,
                     "duration_s": round(length, 1), "fetched_at": end.isoformat()})
        published.append({"video_id": video_id, "record_id": f"rec{n:09d}", "topic": topic,
                          "format": "short" if short else "long", "hook": rng.choice(HOOKS),
                          "length_s": round(length, 1), "publish_at": stamp})
        base = 50 * TOPICS[topic] * rng.lognormvariate(0, 0.5)
        for d in range(days):
            views = int(base * rng.uniform(0.5, 1.5))
            pct = round((70 if short else 45) * rng.uniform(0.8, 1.2), 1)
            rows.append((video_id, (first + dt.timedelta(days=d)).isoformat(), views,
                         round(views * length * pct / 6000, 2), round(length * pct / 100, 1), pct, views // 25, views // 200))
    return store_all(store, meta, published, rows)


if __name__ == "__main__":
    main()
