"""cs-review: a batch of records -> a person's decisions (a local page, a terminal, or a rule for cron)."""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any, Iterator

import click

from .. import checks, log, pipe
from ..errors import ConfigError, ExitStatus
from ..records import Item, Record

STATUSES = ("approved", "rejected", "changes", "unreviewed")
EDITABLE = ("title", "description", "tags")


class Review(pipe.Stage):
    name = "review"
    key = "review"
    reads = {"video": ("path",), "thumbs": None, "thumb": None, "meta": None, "script": None, "visuals": None}

    def __init__(self, transport: str, auto: str | None, host: str, port: int, timeout: float, open_browser: bool,
                 force: bool = False, dry_run: bool = False):
        self.transport, self.auto, self.host, self.port = transport, auto, host, port
        self.timeout, self.open_browser, self.force, self.dry_run = timeout, open_browser, force, dry_run
        self.decisions: dict[int, dict] = {}  # id() of a record object on the page -> its decision
        self.undecided = 0

    def inputs(self, record: Record) -> Any:
        """What a person saw and cs-review does not edit: a new render or script means a new review."""
        video = record.get("video") if isinstance(record.get("video"), dict) else {}
        shots = [{k: v for k, v in s.items() if k not in ("replace", "alternatives")} if isinstance(s, dict) else s
                 for s in (record.get("visuals") if isinstance(record.get("visuals"), list) else [])]
        return {"video": [video.get("path"), video.get("sha256")], "script": record.get("script"), "visuals": shots}

    def done(self, record: Record) -> bool:
        review = record.get("review")
        return isinstance(review, dict) and review.get("status") in ("approved", "rejected") and super().done(record)

    def plan(self, record: Record) -> str:
        found = checks.run(record)
        return f"would ask for a decision ({len(checks.blocking(found))} block and " \
               f"{len(found) - len(checks.blocking(found))} warn findings)"

    # --- the whole batch first ---------------------------------------------------------------------------

    def gather(self, items: Iterator[Item]) -> Iterator[Item]:
        batch = list(items)  # records hold paths, not media: a batch of hundreds is small
        pending = [item.record for item in batch if self._reviewable(item)]
        if pending and not self.dry_run:
            findings = [checks.run(record) for record in pending]
            if self.auto:
                decided = [None if checks.blocking(f) else {"status": "approved"} for f in findings]
                by = "auto"
            elif self.transport == "terminal":
                from ..review_terminal import ask

                decided, by = ask(pending, findings), "terminal"
            else:
                decided, by = self._web(pending, findings), "web"
            for record, decision, found in zip(pending, decided, findings):
                # The driver hands process() these same objects: their identity keys the decisions.
                self.decisions[id(record)] = {**(decision or {"status": "unreviewed"}), "by": by, "findings": found}
        return iter(batch)

    def _reviewable(self, item: Item) -> bool:
        """A record the driver will hand to process(): parsed, no upstream error, well-shaped, not done."""
        from ..pipeline.driver import give_id  # the id the driver will give a record that has none

        record = item.record
        if item.error or record is None or "_error" in record:
            return False
        try:
            give_id(record)
            self.validate(record, require=False)
        except Exception:  # the driver reports it for this record
            return False
        return self.force or not self.done(record)

    def _web(self, pending: list[Record], findings: list[list[dict]]) -> list[dict | None]:
        from .. import review_page
        from ..review_server import Batch, Server

        entries, files = review_page.entries(pending, findings)
        batch = Batch(entries, files, lambda n, decision: review_page.refusals(pending[n], decision))
        try:
            server = Server(batch, self.host, self.port)
        except OSError as exc:
            raise ConfigError(f"cannot listen on {self.host}:{self.port} ({exc.strerror}); choose another --port") from None
        server.serve_in_background()
        sys.stderr.write(f"cs-review: open {server.url}\n")
        sys.stderr.flush()
        if self.open_browser:
            _open_browser(server.url)
        try:
            if not batch.finished.wait(self.timeout):
                log.warn(f"no Finish within {self.timeout:g} s; undecided records go out unreviewed")
        finally:
            server.shutdown()
            server.server_close()
        with batch.lock:
            return [batch.decisions.get(n) for n in range(len(pending))]

    # --- one record --------------------------------------------------------------------------------------

    def process(self, record: Record) -> Record:
        decision = self.decisions.pop(id(record), {"status": "unreviewed", "by": "auto"})
        out = apply(record, decision)
        if out["review"]["status"] == "unreviewed":
            self.undecided += 1
        return out


def _open_browser(url: str) -> None:
    """--open: a browser started with stderr as its stdout, so nothing it prints lands among the records."""
    import os
    import webbrowser

    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        webbrowser.open(url)
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def apply(record: Record, decision: dict) -> Record:
    """RECORD with DECISION's edits made and `review` added; flags are the checks on the edited record."""
    out = dict(record)
    edits: dict[str, Any] = {}
    meta_edits = {k: v for k, v in (decision.get("edits") or {}).items() if k in EDITABLE}
    if meta_edits and isinstance(out.get("meta"), dict):
        changed = {k: v for k, v in meta_edits.items() if out["meta"].get(k) != v}
        out["meta"] = {**out["meta"], **changed}
        edits.update({f"meta.{k}": v for k, v in changed.items()})
    thumbs = out.get("thumbs") if isinstance(out.get("thumbs"), list) else []
    chosen = decision.get("thumb")
    if isinstance(chosen, int) and 0 <= chosen < len(thumbs) and thumbs[chosen] != out.get("thumb"):
        out["thumb"] = thumbs[chosen]
        edits["thumb"] = thumbs[chosen].get("path")
    shots = out.get("visuals") if isinstance(out.get("visuals"), list) else []
    for index, choice in sorted((decision.get("replace") or {}).items(), key=lambda kv: int(kv[0])):
        n = int(index)
        if not 0 <= n < len(shots) or not isinstance(shots[n], dict):
            continue
        alternatives = shots[n].get("alternatives") if isinstance(shots[n].get("alternatives"), list) else []
        # The agreed shape with cs-visuals: one of the shot's alternatives verbatim, or {"kind": "card"}.
        replace = {"kind": "card"} if choice == "card" else (alternatives[choice] if isinstance(choice, int)
                                                              and 0 <= choice < len(alternatives) else None)
        if replace is not None:
            shots = out["visuals"] = [dict(s) if isinstance(s, dict) else s for s in shots]
            shots[n]["replace"] = replace
            edits[f"visuals[{n}].replace"] = replace
    status = decision.get("status") if decision.get("status") in STATUSES else "unreviewed"
    note = decision.get("note")
    # flags: the checks on what goes out (the findings the page showed, unless an edit changed the text)
    flags = decision["findings"] if "findings" in decision and not edits else checks.run(out)
    out["review"] = {"status": status, "by": decision.get("by") or "web",
                     "at": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
                     "flags": flags, "notes": note.strip() if isinstance(note, str) and note.strip() else None,
                     "edits": edits}
    return out


@click.command(name="cs-review", cls=pipe.Command, context_settings=pipe.CONTEXT_SETTINGS)
@click.option("--transport", type=click.Choice(["web", "terminal"]), default="web", show_default=True,
              help="web: a local page; terminal: the same questions on this terminal (an SSH session).")
@click.option("--auto", type=click.Choice(["approve-clean"]), help="Decide without a person: records with no block "
              "finding are approved (by: auto), the rest go out unreviewed with their flags (for cron).")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True, help="Port of the page (0: any free one).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on; another than 127.0.0.1 "
              "lets anyone who can reach it and learns the token approve uploads.")
@click.option("--timeout", type=pipe.FiniteRange(min=1), default=3600, show_default=True, metavar="SECONDS",
              help="Wait this long for Finish; records not decided by then go out unreviewed (exit 4).")
@click.option("--open", "open_browser", is_flag=True, help="Also open the page in a browser.")
@pipe.common_options
def cli(opts: pipe.PipeOptions, transport: str, auto: str | None, port: int, host: str, timeout: float,
        open_browser: bool) -> None:
    """A batch of records -> a person's decisions: approve, reject or ask for changes, before cs-publish.

    \b
    Reads the WHOLE batch first (records hold paths, not media), runs the content checks
    (offensive language, our prompt echoed, off-topic runs, title lists, repeats, cut-off
    fields, YouTube's rules), then serves one local page with each record's video,
    thumbnail choices, editable title, description and tags, script, shot list with
    credits, and findings (blocks first). Approve, Reject, Request changes; Finish sends it all.
    Adds: review {status: approved|rejected|changes|unreviewed, by: web|terminal|auto, at,
    flags, notes, edits}; an edit changes meta.title/description/tags, thumb, or sets
    visuals[i].replace (re-run cs-visuals and cs-render for that record).
    Exit 4 when some records went out unreviewed (timeout, --auto with a block finding).
    cs-publish uploads public, unlisted or scheduled videos only with review.status approved.

    \b
    Examples:
      cs-meta -i rendered.jsonl | cs-review -o reviewed.jsonl        # prints the page's address
      cs-review -i rendered.jsonl --transport terminal -o reviewed.jsonl
      cs-review -i rendered.jsonl --auto approve-clean | cs-publish --privacy public
    """
    log.setup("cs-review", opts.quiet)
    if host != "127.0.0.1":
        log.warn(f"--host {host}: anyone who can reach {host} and learns the printed address can approve uploads")

    def run() -> int:
        stage = Review(transport, auto, host, port, timeout, open_browser, opts.force, opts.dry_run)
        opts.jobs, opts.cluster = 1, None  # one person, one page: decisions are made before the first record
        status = pipe.run(stage, opts)
        return int(ExitStatus.DEFERRED) if status == ExitStatus.OK and stage.undecided else status

    sys.exit(pipe.guard("cs-review", run))
