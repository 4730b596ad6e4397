"""Counts and timings of one run, in Prometheus text format (--metrics)."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .stage import Outcome


class Metrics:
    """Counts and timings in Prometheus text format, for node_exporter's textfile collector."""

    def __init__(self, command: str):
        self.command = command
        self.started = time.time()
        self.records_in = 0
        self.counts = {"out": 0, "failed": 0, "deferred": 0, "skipped": 0}
        self.seconds_sum = 0.0
        self.seconds_max = 0.0
        self.lock = threading.Lock()

    def add(self, outcome: "Outcome") -> None:
        with self.lock:
            self.counts["out"] += len(outcome.records)
            self.counts["failed"] += outcome.failed
            self.counts["deferred"] += outcome.deferred
            self.counts["skipped"] += outcome.skipped
            self.seconds_sum += outcome.seconds
            self.seconds_max = max(self.seconds_max, outcome.seconds)

    def render(self) -> str:
        label = f'{{command="{self.command}"}}'
        lines = [
            "# HELP cs_records_in_total Records (or lines) read.",
            "# TYPE cs_records_in_total counter",
            f"cs_records_in_total{label} {self.records_in}",
        ]
        for name, value in self.counts.items():
            lines += [f"# TYPE cs_records_{name}_total counter", f"cs_records_{name}_total{label} {value}"]
        lines += [
            "# HELP cs_record_seconds Seconds spent per record.",
            "# TYPE cs_record_seconds summary",
            f"cs_record_seconds_sum{label} {self.seconds_sum:.6f}",
            f"cs_record_seconds_count{label} {self.records_in}",
            "# TYPE cs_record_seconds_max gauge",
            f"cs_record_seconds_max{label} {self.seconds_max:.6f}",
            "# TYPE cs_run_seconds gauge",
            f"cs_run_seconds{label} {time.time() - self.started:.6f}",
            "# TYPE cs_last_run_timestamp_seconds gauge",
            f"cs_last_run_timestamp_seconds{label} {time.time():.3f}",
        ]
        return "\n".join(lines) + "\n"
