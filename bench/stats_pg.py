"""Run a shell command against a throwaway PostgreSQL (tests/pg_server.py) with $CS_STATS_DB set to it.

    python bench/stats_pg.py 'python bench/stats_seed.py --db "$CS_STATS_DB" --full && cs-stats report'
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from pg_server import PostgresServer, find_bin  # noqa: E402


def main(argv: list[str]) -> int:
    if find_bin() is None:
        print("PostgreSQL is not installed (apt-get install postgresql); skipped")
        return 0
    with PostgresServer() as server:
        url = server.create_database("bench")
        return subprocess.run(["bash", "-c", argv[0]], env={**os.environ, "CS_STATS_DB": url}).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
