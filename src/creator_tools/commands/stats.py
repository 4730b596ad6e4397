"""cs-stats: pull channel analytics into a store, report per video, recommend what to make next.

\b
Subcommands:
  pull       uploads, lifetime counts and daily analytics -> the stats store (upserts)
  report     one record per video with a `stats` key; --format table, --plot FILE.png
  recommend  topics that beat the channel, with counts and effect sizes -> records for cs-idea

\b
The store is SQLite at $XDG_STATE_HOME/creator-tools/stats.sqlite unless --db (or CS_STATS_DB) names
another file or a postgresql:// URL.

\b
Example:
  cs-stats pull --since 2024-05-01 && cs-stats report --format table && cs-stats recommend | cs-idea -n 3
"""

from __future__ import annotations

import os
import shutil
import sys

import click

from .. import log, pipe
from ..core import config
from ..errors import BadInput, UsageError
from ..records import Record

NAME = "cs-stats"


def _db_option(fn):
    return click.option("--db", envvar=config.variable("CS_STATS_DB"), metavar="URL",
                        help="Stats store: a SQLite file or postgresql://user@host:port/db "
                             "[env CS_STATS_DB; default $XDG_STATE_HOME/creator-tools/stats.sqlite].")(fn)


def _store_path(db: str | None) -> str | None:
    """The SQLite file the store lives in (None for PostgreSQL)."""
    from ..core.db import sqlite_path
    from ..stats.store import default_url

    path = sqlite_path(db or default_url())
    return None if path is None else str(path)


def _not_the_store(db: str | None, **outputs: str | None) -> None:
    """-o or --plot naming the store's own file would replace the database with records or a picture."""
    store = _store_path(db)
    for flag, path in outputs.items():
        if path and path != "-" and store and os.path.realpath(path) == os.path.realpath(store):
            raise UsageError(f"{flag} {path} is the stats store itself; writing there would replace the database. "
                             f"Choose another file for {flag}")


def _open_store(db: str | None, create: bool = False):
    """The stats store; only `pull` may create one, so a typo in --db is an error, not a new empty file."""
    from ..stats.store import Store, default_url

    path = _store_path(db)
    if not create and path and "://" not in path and not os.path.exists(path):
        raise BadInput(f"no stats store at {path}; check --db (or CS_STATS_DB), or run cs-stats pull first")
    return Store(db or default_url(), readonly=not create)  # readers never change (or migrate) the store


class _FromStore(pipe.Stage):
    """Emit records computed from the store (no input), or add the key to input records (-i)."""

    name = "stats"

    def __init__(self, key: str, records: list[Record], values_for=None):
        self.key = key
        self.records = records
        self.values = {r["id"]: r[key] for r in records}
        self.values_for = values_for  # video_id -> value, for input records
        self.reading_input = values_for is not None

    def source(self):
        if self.reading_input:
            return None
        return ({k: v for k, v in r.items() if k != self.key} for r in self.records)

    def done(self, record: Record) -> bool:
        return False  # the store changes between runs: always recompute (it is one lookup)

    def process(self, record: Record) -> Record:
        if not self.reading_input:
            return {**record, self.key: self.values[record["id"]]}
        video_id = (record.get("youtube") or {}).get("video_id")
        if not video_id:
            from ..errors import MissingInput

            raise MissingInput("youtube", "cs-publish")
        if video_id not in self.values_for:
            raise BadInput(f"video {video_id} is not in the stats store; run cs-stats pull first")
        return {**record, self.key: self.values_for[video_id]}


@click.group(cls=pipe.Group, name=NAME, context_settings=pipe.CONTEXT_SETTINGS, help=__doc__)
def cli() -> None:
    pass


@cli.command(context_settings=pipe.CONTEXT_SETTINGS)
@_db_option
@click.option("--since", metavar="YYYY-MM-DD",
              help="First day to fetch (default: 3 days before the last stored day, or 28 days ago).")
@click.option("--until", metavar="YYYY-MM-DD", help="Last day to fetch (default: today, UTC).")
@click.option("-i", "--input", "inputs", multiple=True, metavar="FILE",
              help="cs-publish output records to join (topic, format, hook, length...); '-' is stdin.")
@click.option("--api-endpoint", metavar="URL", help="YouTube API root (a test server) [env CS_YOUTUBE_ENDPOINT].")
@click.option("--token", metavar="FILE", help="OAuth token file from `cs-publish auth` [env CS_YOUTUBE_TOKEN].")
@click.option("--quota", type=click.IntRange(1), default=10_000, show_default=True, metavar="UNITS",
              help="Daily Data API budget in units, shared with cs-publish's ledger.")
@click.option("-j", "--jobs", type=click.IntRange(1, 16), default=4, show_default=True,
              help="Analytics queries in flight at once (one per video).")
@click.option("-q", "--quiet", is_flag=True, help="No progress or summary on stderr (errors still show).")
def pull(db, since, until, inputs, api_endpoint, token, quota, jobs, quiet) -> None:
    """Fetch the channel's uploads and daily analytics into the stats store (upserts: no duplicates).

    \b
    Reads: the YouTube Data API (channels, playlistItems, videos with statistics) and the YouTube
    Analytics API (reports.query by day and by video: views, estimatedMinutesWatched,
    averageViewDuration, averageViewPercentage, likes, subscribersGained); cs-publish's upload
    ledger and, with -i, its output records (topic, format, title, hook, voice.duration_s,
    meta.publish_at, thumb) to tag each video.
    Writes: the stats store; nothing on stdout.

    \b
    Example:
      cs-stats pull --since 2024-05-01 -i published.jsonl
      cs-stats pull --db postgresql://stats@db.local/creator   # from cron, daily
    """
    from ..records import read_items
    from ..stats.pull import pull as run_pull
    from ..stats.report import parse_date
    from ..youtube.client import endpoint

    log.setup(NAME, quiet)

    def records():
        for item in read_items(inputs):
            if item.error:
                raise item.error
            yield item.record

    def call() -> int:
        start = parse_date(since) if since else None
        end = parse_date(until, "--until") if until else None
        store = _open_store(db, create=True)
        try:
            summary = run_pull(store, endpoint=endpoint(api_endpoint), token_option=token, budget=quota,
                               since=start, until=end, records=records() if inputs else (), jobs=jobs)
            log.info(summary.line(store.url))
        finally:
            store.close()
        return 0

    sys.exit(pipe.guard(NAME, call, quiet))


@cli.command(context_settings=pipe.CONTEXT_SETTINGS)
@pipe.common_options
@_db_option
@click.option("--since", metavar="YYYY-MM-DD",
              help="First day of the window; alone, the window runs to the last stored day (as in git log).")
@click.option("--window", "window_text", metavar="Nd",
              help="Window length: 7d, 28d, 4w, ending at the last stored day (from --since when given). "
                   "Default: 7d. Deltas compare with the days of equal length just before.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "table"]), default="jsonl", show_default=True,
              help="jsonl: one record per video; table: a rich table with sparklines for people.")
@click.option("--plot", metavar="FILE.png", help="Also draw views per day, top videos and retention to a PNG.")
@click.option("--limit", type=click.IntRange(1),
              help="Only the N videos with the most views in the window (table default: 25).")
@click.option("--chart/--no-chart", default=None,
              help="Unicode chart on stderr (default: when stderr is a terminal).")
def report(opts: pipe.PipeOptions, db, since, window_text, fmt, plot, limit, chart) -> None:
    """One record per video with its `stats` over a window, and deltas against the window before.

    \b
    Reads: the stats store (and, with -i, records with a `youtube` key, to which it adds `stats`).
    Adds: stats = {video_id, views, watch_minutes, avg_view_s, avg_view_pct, likes, subs_gained,
          window: {start, end, days}, delta: {... differences, views_pct, previous}}.

    \b
    Example:
      cs-stats report --window 28d --format table --plot stats.png
      cs-stats report --since 2024-06-01 | jq -c '.stats | [.video_id, .views, .delta.views]'
    """
    from ..stats import report as reports

    def call() -> int:
        days = reports.parse_days(window_text) if window_text else None
        start = reports.parse_date(since) if since else None
        _not_the_store(db, **{"-o": opts.output, "--plot": plot})
        picture = pipe.output_path("--plot", plot, "stats.png") if plot else None
        store = _open_store(db)
        try:
            window = reports.choose_window(store, start, days)
            if window is None:
                raise BadInput(f"the stats store {store.url} holds no days yet; run cs-stats pull first")
            records = reports.build(store, window)
            shown = records[:limit] if limit else records
            channel = store.channel_series(window.previous.start, window.end)
            if plot:
                from ..stats.plot import png

                png(picture, channel, records, window.as_dict())
                log.info(f"wrote {plot}")
            if fmt == "table":
                return _print_table(store, records, window, channel, limit or 25)
            if chart or (chart is None and log.show_progress()):
                from ..stats.plot import terminal_chart

                sys.stderr.write(terminal_chart(shown, channel) + "\n")
            values = {r["stats"]["video_id"]: r["stats"] for r in records} if opts.inputs else None
            return pipe.run(_FromStore("stats", shown, values), opts)
        finally:
            store.close()

    sys.exit(pipe.guard(NAME, call, opts.quiet))


def _print_table(store, records, window, channel, limit) -> int:
    from rich.console import Console

    from ..stats.plot import terminal_chart
    from ..stats.report import table

    shown = records[:limit] if limit else records
    series = store.series(window.start, window.end, [r["stats"]["video_id"] for r in shown])
    width = shutil.get_terminal_size((160, 40)).columns if sys.stdout.isatty() else 160
    console = Console(file=sys.stdout, width=width, soft_wrap=False)
    console.print(table(records, window, series, limit))
    console.print(terminal_chart(shown, channel), markup=False, highlight=False)
    return 0


@cli.command(context_settings=pipe.CONTEXT_SETTINGS)
@pipe.common_options
@_db_option
@click.option("--metric", type=click.Choice(["views", "watch_minutes", "avg_view_pct"]), default="views",
              show_default=True, help="What 'better' means: views/day, watch minutes/day or % viewed.")
@click.option("--min-n", type=click.IntRange(1), default=2, show_default=True,
              help="Smallest group (videos) that may be recommended.")
@click.option("--min-effect", type=pipe.FiniteRange(0, 1), default=0.147, show_default=True,
              help="Smallest Cliff's delta (group vs the rest) worth recommending; 0.147 is 'small'.")
@click.option("-n", "--limit", type=click.IntRange(1), default=5, show_default=True, help="At most N topics.")
def recommend(opts: pipe.PipeOptions, db, metric, min_n, min_effect, limit) -> None:
    """Topics, formats, lengths, hooks and publish hours that beat the channel, as records for cs-idea.

    \b
    Reads: the stats store (videos joined with what cs-publish recorded: topic, format, hook, length;
    for other videos, topics from their tags, titles and descriptions, format from length and shape).
    Emits: {id, topic, recommendation: {id, summary, format, length_s, publish_hour, hook, evidence}},
    one per topic whose median beats the channel median, best first. Evidence holds n, medians, the
    ratio to the channel median, Cliff's delta and Cohen's d (on log values) for every choice.

    \b
    Example:
      cs-stats recommend --metric watch_minutes | cs-idea -n 3
    """
    from ..stats.recommend import recommend as build

    def call() -> int:
        _not_the_store(db, **{"-o": opts.output})
        store = _open_store(db)
        try:
            records = build(store, metric=metric, min_n=min_n, limit=limit, min_effect=min_effect)
            if not records:
                counts = store.counts()
                if not counts["daily"]:
                    raise BadInput(f"the stats store {store.url} holds no days yet; run cs-stats pull first")
                from ..stats.recommend import profiles

                found = profiles(store, metric)
                topics = sum(1 for p in found if p["topic"])
                log.warn(f"no topic with {min_n}+ videos beats the channel median ({topics} of {len(found)} videos "
                         "have a topic, from cs-publish records or their tags and titles; lower --min-n)")
            for record in records:
                log.info(record["recommendation"]["summary"])
            return pipe.run(_FromStore("recommendation", records), opts)
        finally:
            store.close()

    sys.exit(pipe.guard(NAME, call, opts.quiet))
