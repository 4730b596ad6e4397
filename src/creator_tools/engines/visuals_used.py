"""Which stock and library assets the videos of one $CS_OUT_DIR used, and when: so a channel's videos do not
share footage within `--fresh-days` without anyone keeping a --history file.

A small JSON file beside the search cache ($CS_OUT_DIR/cache/visuals-used.json): {asset_id: {record: id,
at: unix time}}, read and rewritten under a file lock, renamed into place (a crash leaves the old file).
All access goes through `_ledger()` so it can move into the shared database (core/db.py) in one place.
Cards and generated images are not kept: each is made for its own shot.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Iterator

DAY_S = 86400.0
KEPT = ("pexels:", "pixabay:", "library:")  # asset ids worth remembering


def _path() -> Path:
    from .. import artifacts

    return artifacts.out_dir() / "cache" / "visuals-used.json"


@contextlib.contextmanager
def _ledger(write: bool) -> Iterator[dict]:
    """The ledger as a dict, locked against other processes; written back (atomically) when WRITE."""
    import fcntl

    from .. import artifacts

    path = _path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX if write else fcntl.LOCK_SH)
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))
            entries = entries if isinstance(entries, dict) else {}
        except (OSError, ValueError):
            entries = {}  # none yet, or damaged by hand: start again rather than fail the video
        yield entries
        if write:
            artifacts.atomic_write_text(path, json.dumps(entries, sort_keys=True))


def recent(days: float, record_id: str) -> set[str]:
    """Asset ids other records of this $CS_OUT_DIR used in the last DAYS days (none for DAYS 0)."""
    if days <= 0:
        return set()
    since = time.time() - days * DAY_S
    with _ledger(write=False) as entries:
        return {asset for asset, use in entries.items() if isinstance(use, dict)
                and use.get("record") != record_id and float(use.get("at") or 0) >= since}


def remember(record_id: str, assets: list[str]) -> None:
    """Note that RECORD_ID's video uses ASSETS now (its earlier uses of other assets are forgotten)."""
    kept = [a for a in assets if a.startswith(KEPT)]
    now = time.time()
    with _ledger(write=True) as entries:
        for asset in [a for a, use in entries.items() if isinstance(use, dict) and use.get("record") == record_id]:
            del entries[asset]
        for asset in kept:
            entries[asset] = {"record": record_id, "at": now}
