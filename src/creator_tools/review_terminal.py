"""cs-review --transport terminal: the page's questions asked on the terminal (/dev/tty, since stdin carries
the records), for an SSH session without port forwarding."""

from __future__ import annotations

from . import text
from .errors import ConfigError

CHOICES = {"a": "approved", "r": "rejected", "c": "changes", "s": None}


class _Terminal:
    """/dev/tty opened twice: a terminal cannot seek, so one read-write text file (BufferedRandom) fails."""

    def __init__(self):
        self.reader = open("/dev/tty", encoding="utf-8", errors="replace")
        self.writer = open("/dev/tty", "w", encoding="utf-8")

    def write(self, value: str) -> None:
        self.writer.write(value)

    def flush(self) -> None:
        self.writer.flush()

    def readline(self) -> str:
        self.writer.flush()
        return self.reader.readline()

    def __enter__(self) -> "_Terminal":
        return self

    def __exit__(self, *exc) -> None:
        self.reader.close()
        self.writer.close()


def _terminal() -> _Terminal:
    try:
        return _Terminal()
    except OSError:
        raise ConfigError("--transport terminal needs a terminal (/dev/tty) and there is none; use the web page "
                          "(forward its port over SSH: ssh -L PORT:127.0.0.1:PORT) or --auto approve-clean") from None


def ask(records: list[dict], findings: list[list[dict]]) -> list[dict | None]:
    """A decision per record (None: skipped, it goes out unreviewed), asked one record at a time."""
    decisions: list[dict | None] = []
    with _terminal() as tty:
        for n, (record, found) in enumerate(zip(records, findings), 1):
            meta = record.get("meta") if isinstance(record.get("meta"), dict) else {}
            video = record.get("video") if isinstance(record.get("video"), dict) else {}
            tty.write(f"\n[{n}/{len(records)}] {record.get('id')}: {meta.get('title') or record.get('title')}\n")
            tty.write(f"  video: {video.get('path') or '(none)'}\n")
            for f in found:
                tty.write(f"  {'BLOCK' if f['severity'] == 'block' else 'warn '} {f['check']} at {f['key']}: "
                          f"{f['message']} ({text.truncate(f['excerpt'], 60)!r})\n")
            decisions.append(_one(tty, meta))
    return decisions


def _ask(tty: _Terminal, prompt: str) -> str:
    tty.write(prompt)
    tty.flush()
    line = tty.readline()
    if not line:  # the terminal closed: nothing more will be answered
        raise EOFError
    return line.strip()


def _one(tty: _Terminal, meta: dict) -> dict | None:
    try:
        while True:
            answer = _ask(tty, "  [a]pprove, [r]eject, request [c]hanges, [s]kip? ").lower()[:1]
            if answer in CHOICES:
                break
        status = CHOICES[answer]
        if status is None:
            return None
        decision: dict = {"status": status}
        if status == "changes":
            decision["note"] = _ask(tty, "  note (what to change): ")
        if status == "approved" and meta:
            title = _ask(tty, f"  title [{meta.get('title')}] (Enter keeps it): ")
            if title:
                decision["edits"] = {"title": title}
        return decision
    except EOFError:
        return None
