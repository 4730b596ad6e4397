"""Time a command: run it N times (output to /dev/null), print the median and the worst in seconds.

    python bench/stats_time.py 5 cs-stats report --db /tmp/stats.sqlite
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time


def main(argv: list[str]) -> int:
    runs, command = int(argv[0]), argv[1:]
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            sys.stderr.write(done.stderr.decode(errors="replace"))
            return done.returncode
    print(f"median {statistics.median(times):.3f} s  max {max(times):.3f} s  ({runs} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
