"""The record driver: reads lazily, keeps a bounded window of futures for `-j N` (output in input order),
turns exceptions into `_error` records or a fatal exit, skips records whose work is already done, and writes
metrics. Its public pieces (`run`, `ordered`, `handle`, `fail`, `Stop`) are what cluster.py builds on."""

from __future__ import annotations

import functools
import os
import sys
import time
from collections import deque
from typing import IO, Callable, Iterator

from .. import log, schemas
from ..core import config, files
from ..errors import BadInput, ConfigError, CSError, ExitStatus, QuotaDeferred, UsageError
from ..records import Item, Record, fingerprint, new_id, read_items, write
from .metrics import Metrics
from .outputs import Output, check_metrics_path, parents, silence_stdout, write_metrics
from .stage import Outcome, PipeOptions, Stage

# How --cluster orders records: cluster.ordered, handed in by the CLI layer so this module never imports the
# cluster (which builds on this one). Signature: (stage, opts, items, metrics) -> Iterator[Outcome].
Orderer = Callable[[Stage, PipeOptions, Iterator[Item], Metrics], Iterator[Outcome]]


class Stop(Exception):
    """The reader closed the pipe: stop quietly."""


def run(stage: Stage, opts: PipeOptions, cluster: Orderer | None = None) -> int:
    """Drive `stage` over the input; return the exit status. CLUSTER orders records on a Dask cluster
    (--cluster; see cluster.ordered)."""
    log.setup(f"cs-{stage.name}", opts.quiet)
    metrics = Metrics(f"cs-{stage.name}")
    if opts.metrics:  # a path that cannot take the file fails now, not after every record was done
        check_metrics_path(opts, f"cs-{stage.name}")
    if writes_files(stage) and not opts.dry_run:
        check_out_dir()  # once, before any record's expensive work (a model load, a synthesis)
    output = Output(opts.output)
    status = ExitStatus.ERROR  # until the drive returns: an escaping error must not publish partial output
    try:
        status = drive(stage, opts, output.handle, metrics, cluster)
    except Stop:
        status = ExitStatus.OK
    except KeyboardInterrupt:
        status = ExitStatus.INTERRUPTED
        if output.replaces:
            log.error(f"interrupted; {opts.output} left as it was and the partial output discarded; "
                      "re-run the same command (finished files are reused)")
        else:
            log.error("interrupted; the records finished so far were written; re-run to finish the rest")
    finally:
        stage.close()
        if not output.finish(status in (ExitStatus.OK, ExitStatus.RECORD_ERRORS, ExitStatus.DEFERRED),
                             announce=status != ExitStatus.INTERRUPTED):
            status = ExitStatus.ERROR
        if opts.metrics and not write_metrics(opts.metrics, metrics) and status == ExitStatus.OK:
            status = ExitStatus.ERROR
    return int(status)


def writes_files(stage: Stage) -> bool:
    """Stages whose key points at files (they override `artifacts`) write under CS_OUT_DIR."""
    return type(stage).artifacts is not Stage.artifacts


def check_out_dir() -> None:
    """ConfigError now, not after each record's work, when CS_OUT_DIR cannot take files: a file on its path,
    a folder without write permission (`CS_OUT_DIR=/proc/out`, a read-only mount). A store URL is checked by
    artifacts.out_dir (the bucket answers)."""
    location = config.out_location()
    if "://" in location:
        from .. import artifacts

        artifacts.out_dir()
        return
    fix = "point CS_OUT_DIR at a folder you can write to"
    for folder in [*parents(location), "/" if os.path.isabs(location) else "."]:  # the nearest that exists decides
        if os.path.isdir(folder):
            if not os.access(folder, os.W_OK | os.X_OK):
                raise ConfigError(f"CS_OUT_DIR={location}: cannot write in {folder} (permission denied); {fix}")
            return
        if os.path.lexists(folder):
            raise ConfigError(f"CS_OUT_DIR={location}: {folder} is a file, not a folder; {fix}")


def drive(stage: Stage, opts: PipeOptions, out: IO[str], metrics: Metrics, cluster: Orderer | None = None) -> ExitStatus:
    made = stage.source()
    items: Iterator[Item] = (
        (Item("<args>", n, record=r) for n, r in enumerate(made, 1)) if made is not None else read_items(opts.inputs or ("-",))
    )
    items = stage.gather(items)
    totals = Outcome()
    if opts.cluster and cluster is not None:
        outcomes = cluster(stage, opts, items, metrics)
    else:
        outcomes = ordered(functools.partial(handle, stage, opts), items, opts.jobs, metrics)
    with log.progress("records") as bar:
        for outcome in outcomes:
            for record in outcome.records:
                emit(out, record)
            metrics.add(outcome)
            totals.failed += outcome.failed
            totals.deferred += outcome.deferred
            bar(advance=1)
            if outcome.fatal:
                return ExitStatus.USAGE if isinstance(outcome.fatal, UsageError) else ExitStatus.ERROR
    if totals.deferred:
        return ExitStatus.DEFERRED
    return ExitStatus.RECORD_ERRORS if totals.failed else ExitStatus.OK


def ordered(handle: Callable[[Item], Outcome], items: Iterator[Item], jobs: int, metrics: Metrics) -> Iterator[Outcome]:
    """Results in input order. With -j N, at most 2N records are in flight: input is read only as fast as
    results leave (Executor.map would read all input first and hold every result). cluster.ordered keeps the
    same window of Dask futures, each running `handle` on a worker."""
    if jobs <= 1:
        for item in items:
            metrics.records_in += 1
            yield handle(item)
        return
    from concurrent.futures import ThreadPoolExecutor  # only -j pays for it

    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="cs-job")
    window: deque = deque()
    try:
        for item in items:
            metrics.records_in += 1
            window.append(pool.submit(handle, item))
            while len(window) >= 2 * jobs or (window and window[0].done()):
                yield window.popleft().result()
        while window:
            yield window.popleft().result()
    finally:
        for future in window:
            future.cancel()
        pool.shutdown(wait=not window, cancel_futures=True)


def handle(stage: Stage, opts: PipeOptions, item: Item) -> Outcome:
    started = time.monotonic()
    outcome = Outcome()
    try:
        if item.error:
            raise item.error
        record = item.record
        if "_error" in record:
            if not retry_here(stage, record):  # failed upstream: pass on untouched
                outcome.records.append(record)
                return outcome
            record = {k: v for k, v in record.items() if k != "_error"}
        give_id(record)
        stage.validate(record, require=False)  # shapes first: done() and inputs() read these keys
        if not opts.force and stage.done(record):
            outcome.records.append(record)
            outcome.skipped = 1
            return outcome
        stage.check(record)
        if opts.dry_run:
            log.info(f"{item.where}: record {record['id']}: {stage.plan(record)}")
            outcome.records.append(record)
            return outcome
        outcome.records.extend(stamp(stage, record, stage.process(record)))
    except CSError as exc:
        fail(stage.name, opts, item, exc, outcome)
    except (KeyboardInterrupt, Stop):
        raise
    except Exception as exc:  # a bug or an engine's own exception: one line, traceback on request
        if log.debug_enabled():
            import traceback

            traceback.print_exc()
        fail(stage.name, opts, item, explain(exc), outcome)
    finally:
        outcome.seconds = time.monotonic() - started
    return outcome


def give_id(record: Record) -> None:
    """Records without a usable id (none, null, "") get one from their content, as the first stage does, so
    their files are not named None-... and their error records are not lost. `0` is an id like any other."""
    rid = record.get("id")
    if rid is None or (isinstance(rid, str) and not rid.strip()):
        record["id"] = new_id({k: v for k, v in record.items() if not k.startswith("_") and k != "id"})
    elif isinstance(rid, bool) or not isinstance(rid, (str, int)):
        raise BadInput(f"id should be a string (or a whole number), got {schemas.describe(rid)}; give each record a unique string "
                       "id or leave 'id' out to have one made")


def explain(exc: Exception) -> CSError:
    """An exception no stage turned into a toolkit error: a folder under CS_OUT_DIR that cannot be made is
    the user's setting (`CS_OUT_DIR=notes.txt/out`); anything else is a bug, one line unless CS_DEBUG=1."""
    out_dir = config.out_location()
    filename = getattr(exc, "filename", None)
    if files.no_space(exc):  # [Errno 28] with no path: say which folder is full and what to do
        return files.DiskFull(os.path.dirname(os.path.abspath(filename)) if isinstance(filename, str) else out_dir)
    if isinstance(exc, OSError) and isinstance(filename, str) and "://" not in out_dir:
        inside = os.path.abspath(filename) + os.sep
        if inside.startswith(os.path.abspath(out_dir) + os.sep) or os.path.abspath(out_dir).startswith(inside):
            blocker = next((p for p in parents(filename) if os.path.isfile(p)), None)
            reason = f"{blocker} is a file, not a folder" if blocker else f"cannot write {filename} ({exc.strerror})"
            return BadInput(f"CS_OUT_DIR={out_dir}: {reason}; point CS_OUT_DIR at a folder you can write to")
    return CSError(f"unexpected {type(exc).__name__}: {exc}; set CS_DEBUG=1 for a traceback")


def retry_here(stage: Stage, record: Record) -> bool:
    """A record this stage deferred (quota, rate limit) is retried when it comes back, e.g. from the output
    file of the run that deferred it."""
    error = record["_error"]
    return isinstance(error, dict) and bool(error.get("retryable")) and error.get("command") == f"cs-{stage.name}"


def stamp(stage: Stage, before: Record, result: Record | list[Record]) -> list[Record]:
    """Record the inputs fingerprint of the work just done, so a re-run on the output skips it."""
    records = result if isinstance(result, list) else [result]
    if stage.key:
        stamp = fingerprint(stage.inputs(before))
        for record in records:
            if stage.key in record:
                done = record.get("_inputs")  # a hand-edited `_inputs` that is no object is replaced
                record["_inputs"] = {**(done if isinstance(done, dict) else {}), stage.name: stamp}
    return records


def fail(command: str, opts: PipeOptions, item: Item, exc: CSError, outcome: Outcome) -> None:
    """Report EXC for ITEM as cs-COMMAND: one stderr line, then a fatal stop or an `_error` record."""
    record = item.record
    rid = record.get("id") if record else None
    prefix = "" if item.error else f"{item.where}: " + (f"record {rid}: " if rid is not None else "")
    deferred = isinstance(exc, QuotaDeferred)
    # A wrong flag, key, model or server fails every record alike: stop once, even with -k.
    setup = isinstance(exc, (ConfigError, UsageError))
    log.error(("" if setup else prefix) + exc.message)
    if setup or (not deferred and not opts.keep_going):
        outcome.fatal = exc
        if log.debug_enabled() and exc.__traceback__:
            import traceback

            traceback.print_exception(exc)
        return
    if deferred:
        outcome.deferred = 1
    else:
        outcome.failed = 1
    error = {"command": f"cs-{command}", "type": exc.type, "message": exc.message, "retryable": exc.retryable}
    if item.error:  # a line that is no record (or only part of one): say where it was
        error.update(input=item.source, line=item.line)
    if record is None or rid is None or rid == "":
        # An unparseable line still leaves a record, so `jq 'select(._error)'` finds every failure.
        record = {**(record or {}), "id": new_id("line", item.source, item.line)}
    outcome.records.append({**record, "_error": error})


def emit(out: IO[str], record: Record) -> None:
    try:
        write(out, record)
    except BrokenPipeError:
        # The reader left (`| head -1`): point stdout at /dev/null so the interpreter's final flush cannot
        # fail again, and stop quietly with exit 0 (Python docs, "Note on SIGPIPE").
        silence_stdout()
        raise Stop() from None
    except ValueError:  # NaN or infinity: input is checked, so a stage computed it
        raise CSError(f"record {record.get('id')}: this stage produced a number JSON cannot hold (NaN or "
                      "infinity); this is a bug, please report it with the input record") from None
    except OSError as exc:  # a full disk: one line, not a traceback
        silence_stdout()
        name = "stdout" if out is sys.stdout else getattr(out, "name", None)
        name = name if isinstance(name, str) else "the -o file"  # an AtomicFile's handle is named by its fd
        raise CSError(f"cannot write to {name}: {exc.strerror}; free space or choose another -o") from None


