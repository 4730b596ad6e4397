"""The pipe contract, implemented once: common options, the per-record driver, error records and exit codes.

A command is a `Stage` (what to do with one record) plus click options. `stage_command` adds the common
options, builds the stage from the parsed flags and runs it through `run`, which reads lazily, keeps a
bounded window of futures for `-j N` (output in input order), turns exceptions into `_error` records or a
fatal exit, skips records whose work is already done, and writes metrics.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import functools
import os
import signal
import sys
import threading
import time
from collections import deque
from typing import IO, Any, Callable, Iterable, Iterator

import click

from . import log, schemas
from .errors import BadInput, ConfigError, CSError, ExitStatus, MissingInput, QuotaDeferred, UsageError
from .records import Item, Record, fingerprint, new_id, read_items, write

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class _Friendly:
    """Click's own usage errors in the toolkit's format: `cs-NAME: error: ...` and exit 2."""

    def main(self, args=None, prog_name=None, **extra):
        name = prog_name or self.name or "cs"
        try:
            result = super().main(args, prog_name, standalone_mode=False, **extra)
            return result if isinstance(result, int) else 0
        except click.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
            sys.stderr.write(f"{name}: error: {exc.format_message()}{hint}\n")
            sys.exit(int(ExitStatus.USAGE))
        except click.Abort:
            sys.stderr.write(f"{name}: error: interrupted\n")
            sys.exit(int(ExitStatus.INTERRUPTED))


class Command(_Friendly, click.Command):
    pass


class Group(_Friendly, click.Group):
    pass


class FiniteRange(click.FloatRange):
    """click.FloatRange that also refuses nan and inf: nan passes every comparison, so FloatRange lets it in
    (`--rate nan` once crashed deep in the TTS engine)."""

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if number != number or number in (float("inf"), float("-inf")):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


class PipeOptions:
    """The common options every record command takes (see _COMMON)."""

    def __init__(self, inputs: tuple[str, ...] = (), output: str | None = None, jobs: int | None = None,
                 keep_going: bool = False, dry_run: bool = False, force: bool = False, quiet: bool = False,
                 metrics: str | None = None, cluster: str | None = None):
        self.inputs, self.output, self.jobs, self.keep_going = inputs, output, jobs or 1, keep_going
        self.dry_run, self.force, self.quiet, self.metrics = dry_run, force, quiet, metrics
        self.jobs_given = jobs is not None  # --cluster defaults -j to the cluster's worker threads
        self.cluster = cluster or None
        # (command name, its own parsed options): how a cluster worker rebuilds the stage (set by stage_command)
        self.recipe: tuple[str, dict[str, Any]] | None = None


class Stage(ABC):
    """One command's work on one record. Subclasses set `name` and `key` and implement `process`."""

    name: str = ""  # "voice" for cs-voice
    key: str | None = None  # the record key this stage adds
    needs: dict[str, str] = {}  # keys it reads -> the command that adds them, for "run X first" errors
    # Keys it reads when present -> the fields it reads of them (None: all), checked against schemas.py.
    reads: dict[str, tuple[str, ...] | None] = {}

    def settings(self) -> dict[str, Any]:
        """Options that change the output; part of the inputs fingerprint, so changing them redoes work."""
        return {}

    def source(self) -> Iterable[Record] | None:
        """Records made from command-line arguments (cs-idea's topics); None means read the input."""
        return None

    def inputs(self, record: Record) -> Any:
        return {"needs": {k: record.get(k) for k in self.needs}, "settings": self.settings()}

    def artifacts(self, record: Record) -> list[Any]:
        """The files (paths or store URIs) this stage's key points at; the work is done only while each is
        still there. A wrong shape (KeyError, TypeError) counts as not done: `check` then names the key."""
        return []

    def done(self, record: Record) -> bool:
        """True when the record already carries this stage's output for the same inputs and its artifacts
        still exist (a local file, or an object in the store: a deleted one means redo).
        A key with no stored fingerprint was written by hand and is kept."""
        if not self.key or self.key not in record:
            return False
        if schemas.problems(self.key, record[self.key]):  # a hand-edited key of the wrong shape: do it again
            return False
        done_inputs = record.get("_inputs")
        stored = done_inputs.get(self.name) if isinstance(done_inputs, dict) else None
        if stored is not None and stored != fingerprint(self.inputs(record)):
            return False
        try:
            files = self.artifacts(record)
        except (KeyError, TypeError, AttributeError, IndexError):
            return False
        if not files:
            return True
        from . import artifacts  # pathlib, and boto3 only for an s3:// URI

        return all(artifacts.exists(path) for path in files)

    def check(self, record: Record) -> None:
        """Before processing: every needed key is there and every key it reads has the contract's shape."""
        self.validate(record)

    def validate(self, record: Record, require: bool = True) -> None:
        """BadInput naming the key, the exact path and the fix when a needed key is missing (REQUIRE) or a
        key this stage reads has the wrong shape (a string where seconds belong, NaN, an empty list)."""
        for key, stage in self.needs.items():
            if key in record:
                schemas.check(key, record[key])
            elif require:
                raise MissingInput(key, stage)
        for key, fields in self.reads.items():  # optional: null stands for "none" (no thumbnail, say)
            if record.get(key) is not None and key not in self.needs:
                schemas.check(key, record[key], fields)

    @abstractmethod
    def process(self, record: Record) -> Record | list[Record]:
        """The record with this stage's key added (or several records, for cs-idea)."""

    def gather(self, items: Iterator[Item]) -> Iterator[Item]:
        """The input before the first record is handled. A stage that must see the whole batch first
        (cs-review: one page for all records) reads it here; every other stage streams it on."""
        return items

    def plan(self, record: Record) -> str:
        """What --dry-run says it would do for this record (stderr)."""
        return f"would add '{self.key}'" if self.key else "would process"

    def close(self) -> None:
        """Release engines (models, servers) after the last record."""

    def resources(self) -> dict[str, float]:
        """Dask worker resources one record needs under --cluster, e.g. {"GPU": 1} for a CUDA model."""
        return {}


class Outcome:
    """What one input line became: records to write, counts, and a fatal error if it stops the run."""

    def __init__(self):
        self.records: list[Record] = []
        self.failed = self.deferred = self.skipped = 0
        self.fatal: CSError | None = None
        self.seconds = 0.0


class _Stop(Exception):
    """The reader closed the pipe: stop quietly."""


# --- the driver -----------------------------------------------------------------------------------------


def run(stage: Stage, opts: PipeOptions) -> int:
    """Drive `stage` over the input; return the exit status."""
    log.setup(f"cs-{stage.name}", opts.quiet)
    metrics = Metrics(f"cs-{stage.name}")
    if opts.metrics:  # a path that cannot take the file fails now, not after every record was done
        output_path("--metrics", opts.metrics, f"cs-{stage.name}.prom")
        _not_also(opts.metrics, opts)
    output = _Output(opts.output)
    status = ExitStatus.ERROR  # until the drive returns: an escaping error must not publish partial output
    try:
        status = _drive(stage, opts, output.handle, metrics)
    except _Stop:
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
        if opts.metrics and not _write_metrics(opts.metrics, metrics) and status == ExitStatus.OK:
            status = ExitStatus.ERROR
    return int(status)


def _drive(stage: Stage, opts: PipeOptions, out: IO[str], metrics: "Metrics") -> ExitStatus:
    made = stage.source()
    items: Iterator[Item] = (
        (Item("<args>", n, record=r) for n, r in enumerate(made, 1)) if made is not None else read_items(opts.inputs or ("-",))
    )
    items = stage.gather(items)
    handle = functools.partial(_handle, stage, opts)
    totals = Outcome()
    with log.progress("records") as bar:
        for outcome in _ordered(handle, items, opts.jobs, metrics, (stage, opts) if opts.cluster else None):
            for record in outcome.records:
                _emit(out, record)
            metrics.add(outcome)
            totals.failed += outcome.failed
            totals.deferred += outcome.deferred
            bar(advance=1)
            if outcome.fatal:
                return ExitStatus.USAGE if isinstance(outcome.fatal, UsageError) else ExitStatus.ERROR
    if totals.deferred:
        return ExitStatus.DEFERRED
    return ExitStatus.RECORD_ERRORS if totals.failed else ExitStatus.OK


def _ordered(handle: Callable[[Item], Outcome], items: Iterator[Item], jobs: int, metrics: "Metrics",
             cluster: tuple[Stage, PipeOptions] | None = None) -> Iterator[Outcome]:
    """Results in input order. With -j N, at most 2N records are in flight: input is read only as fast as
    results leave (Executor.map would read all input first and hold every result). With --cluster the same
    window holds Dask futures, run by `_handle` on the cluster's workers (cluster.py)."""
    if cluster is not None:
        from . import cluster as dask_cluster  # only --cluster pays for distributed

        yield from dask_cluster.ordered(*cluster, items, metrics)
        return
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


def _handle(stage: Stage, opts: PipeOptions, item: Item) -> Outcome:
    started = time.monotonic()
    outcome = Outcome()
    try:
        if item.error:
            raise item.error
        record = item.record
        if "_error" in record:
            if not _retry_here(stage, record):  # failed upstream: pass on untouched
                outcome.records.append(record)
                return outcome
            record = {k: v for k, v in record.items() if k != "_error"}
        _give_id(record)
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
        outcome.records.extend(_stamp(stage, record, stage.process(record)))
    except CSError as exc:
        _fail(stage.name, opts, item, exc, outcome)
    except (KeyboardInterrupt, _Stop):
        raise
    except Exception as exc:  # a bug or an engine's own exception: one line, traceback on request
        if log.debug_enabled():
            import traceback

            traceback.print_exc()
        _fail(stage.name, opts, item, _explain(exc), outcome)
    finally:
        outcome.seconds = time.monotonic() - started
    return outcome


def _give_id(record: Record) -> None:
    """Records without a usable id (none, null, "") get one from their content, as the first stage does, so
    their files are not named None-... and their error records are not lost. `0` is an id like any other."""
    rid = record.get("id")
    if rid is None or (isinstance(rid, str) and not rid.strip()):
        record["id"] = new_id({k: v for k, v in record.items() if not k.startswith("_") and k != "id"})
    elif isinstance(rid, bool) or not isinstance(rid, (str, int)):
        raise BadInput(f"id should be a string (or a whole number), got {schemas.describe(rid)}; give each record a unique string "
                       "id or leave 'id' out to have one made")


def _explain(exc: Exception) -> CSError:
    """An exception no stage turned into a toolkit error: a folder under CS_OUT_DIR that cannot be made is
    the user's setting (`CS_OUT_DIR=notes.txt/out`); anything else is a bug, one line unless CS_DEBUG=1."""
    out_dir = os.environ.get("CS_OUT_DIR") or "cs-out"
    filename = getattr(exc, "filename", None)
    if isinstance(exc, OSError) and isinstance(filename, str) and "://" not in out_dir:
        inside = os.path.abspath(filename) + os.sep
        if inside.startswith(os.path.abspath(out_dir) + os.sep) or os.path.abspath(out_dir).startswith(inside):
            blocker = next((p for p in _parents(filename) if os.path.isfile(p)), None)
            reason = f"{blocker} is a file, not a folder" if blocker else f"cannot write {filename} ({exc.strerror})"
            return BadInput(f"CS_OUT_DIR={out_dir}: {reason}; point CS_OUT_DIR at a folder you can write to")
    return CSError(f"unexpected {type(exc).__name__}: {exc}; set CS_DEBUG=1 for a traceback")


def _retry_here(stage: Stage, record: Record) -> bool:
    """A record this stage deferred (quota, rate limit) is retried when it comes back, e.g. from the output
    file of the run that deferred it."""
    error = record["_error"]
    return isinstance(error, dict) and bool(error.get("retryable")) and error.get("command") == f"cs-{stage.name}"


def _stamp(stage: Stage, before: Record, result: Record | list[Record]) -> list[Record]:
    """Record the inputs fingerprint of the work just done, so a re-run on the output skips it."""
    records = result if isinstance(result, list) else [result]
    if stage.key:
        stamp = fingerprint(stage.inputs(before))
        for record in records:
            if stage.key in record:
                done = record.get("_inputs")  # a hand-edited `_inputs` that is no object is replaced
                record["_inputs"] = {**(done if isinstance(done, dict) else {}), stage.name: stamp}
    return records


def _fail(command: str, opts: PipeOptions, item: Item, exc: CSError, outcome: Outcome) -> None:
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


# --- output ---------------------------------------------------------------------------------------------


def _emit(out: IO[str], record: Record) -> None:
    try:
        write(out, record)
    except BrokenPipeError:
        # The reader left (`| head -1`): point stdout at /dev/null so the interpreter's final flush cannot
        # fail again, and stop quietly with exit 0 (Python docs, "Note on SIGPIPE").
        _silence_stdout()
        raise _Stop() from None
    except ValueError:  # NaN or infinity: input is checked, so a stage computed it
        raise CSError(f"record {record.get('id')}: this stage produced a number JSON cannot hold (NaN or "
                      "infinity); this is a bug, please report it with the input record") from None
    except OSError as exc:  # a full disk: one line, not a traceback
        _silence_stdout()
        name = "stdout" if out is sys.stdout else getattr(out, "name", "the output")
        raise CSError(f"cannot write to {name}: {exc.strerror}; free space or choose another -o") from None


def _silence_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _parents(path: str) -> Iterator[str]:
    """PATH and the folders above it, nearest first."""
    while path and path != os.path.dirname(path):
        yield path
        path = os.path.dirname(path)


def output_path(flag: str, path: str, example: str) -> str:
    """The file PATH names for FLAG (symlinks followed, so a link keeps pointing at the new file), with its
    folder made. UsageError, before any work, when PATH is a folder or its folder cannot be made."""
    real = os.path.realpath(path)
    if os.path.isdir(real):
        raise UsageError(f"{flag} {path} is a folder; give a file name, e.g. {os.path.join(path, example)}")
    folder = os.path.dirname(real)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        blocker = next((p for p in _parents(folder) if os.path.isfile(p)), None)
        reason = f"{blocker} is a file, not a folder" if blocker else f"cannot make {folder} ({exc.strerror})"
        raise UsageError(f"{flag} {path}: {reason}; choose a path in a folder you can write to") from None
    return real


def _not_also(metrics: str, opts: PipeOptions) -> None:
    """--metrics must not name the records' output or an input file: its few lines would replace them."""
    if special_file(metrics):
        return  # a FIFO or device is written straight to, and replaces nothing
    real = os.path.realpath(metrics)
    for flag, other in [("-o", opts.output), *(("-i", path) for path in opts.inputs)]:
        if other and other != "-" and os.path.realpath(other) == real:
            raise UsageError(f"--metrics {metrics} is also given to {flag}; the metrics would replace those records. "
                             "Choose another file for --metrics")


def special_file(path: str) -> bool:
    """A device or FIFO (/dev/null, /dev/full, mkfifo): written straight to, never replaced by a rename."""
    return os.path.exists(path) and not os.path.isfile(path) and not os.path.isdir(path)


class _Output:
    """Where records go: stdout; a special file, written straight to; or a temp file beside a regular
    file, renamed over it only when the run ends well (a failed run leaves the old file as it was)."""

    def __init__(self, path: str | None):
        self.path, self.temp = path, None
        if not path or path == "-":
            self.handle: IO[str] = sys.stdout
            return
        real = output_path("-o", path, "out.jsonl")
        if not special_file(real):
            self.temp = os.path.join(os.path.dirname(real), f".{os.path.basename(real)}.{os.getpid()}.tmp")
        try:
            self.handle = open(self.temp or real, "w", encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write -o {path} ({exc.strerror}); choose another path") from None
        self.real = real

    @property
    def replaces(self) -> bool:
        return self.temp is not None

    def finish(self, ok: bool, announce: bool = True) -> bool:
        """Publish the output when OK, else discard it; False when publishing failed."""
        if self.handle is sys.stdout:
            return True
        try:
            self.handle.close()
        except OSError:
            ok = False  # already reported by the write that failed
        if not self.temp:
            return True
        try:
            if ok:
                os.replace(self.temp, self.real)
                return True
            os.unlink(self.temp)
        except OSError as exc:  # the folder went away or lost its permissions during the run
            log.error(f"cannot write -o {self.path} ({exc.strerror}); the records were not saved")
            return False
        if announce:
            log.error(f"{self.path} left as it was; the partial output was discarded")
        return True


def _write_metrics(path: str, metrics: "Metrics") -> bool:
    """Write the metrics as -o writes records (a device or FIFO straight, a file by rename); False, with
    one error line, when that fails (/dev/full, a folder removed meanwhile)."""
    import tempfile

    try:
        real = os.path.realpath(path)
        if special_file(real):
            with open(real, "w", encoding="utf-8") as handle:
                handle.write(metrics.render())
            return True
        fd, temp = tempfile.mkstemp(prefix=f".{os.path.basename(real)}.", suffix=".tmp", dir=os.path.dirname(real))
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(metrics.render())
            mask = os.umask(0)  # mkstemp makes owner-only files; metrics get the usual umask-based mode
            os.umask(mask)
            os.chmod(temp, 0o666 & ~mask)
            os.replace(temp, real)
        except BaseException:
            os.unlink(temp)
            raise
        return True
    except OSError as exc:
        log.error(f"cannot write --metrics {path} ({exc.strerror}); the records were written; choose another path")
        return False


# --- metrics --------------------------------------------------------------------------------------------


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

    def add(self, outcome: Outcome) -> None:
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


# --- click glue -----------------------------------------------------------------------------------------

_COMMON = [
    click.option("-i", "--input", "inputs", multiple=True, metavar="FILE",
                 help="Read records from FILE ('-' is stdin); repeatable. Default: stdin."),
    click.option("-o", "--output", metavar="FILE", help="Write records to FILE (replaced only when the run ends well)."),
    click.option("-j", "--jobs", type=click.IntRange(1, 1024), default=None,
                 help="Work on N records at once; output keeps input order. Default: 1, with --cluster the "
                      "cluster's worker threads."),
    click.option("-k", "--keep-going", is_flag=True,
                 help="Turn bad lines and failed records into error records and go on (exit 3 at the end)."),
    click.option("--dry-run", is_flag=True, help="Say what would be done on stderr; pass records through unchanged."),
    click.option("--force", is_flag=True, help="Redo work even when a record already has this stage's output."),
    click.option("-q", "--quiet", is_flag=True, help="No progress or info on stderr (errors still show)."),
    click.option("--metrics", metavar="FILE", help="Write counts and timings in Prometheus text format to FILE."),
    click.option("--cluster", envvar="CS_CLUSTER", metavar="ADDRESS",
                 help="Process records on the workers of the Dask cluster at ADDRESS (tcp://HOST:8786 or a "
                      "scheduler file; env CS_CLUSTER); see docs/cluster.md."),
]
COMMON_NAMES = ("inputs", "output", "jobs", "keep_going", "dry_run", "force", "quiet", "metrics", "cluster")


def common_options(fn: Callable) -> Callable:
    """Stack the common pipe options on a click callback, which receives them as one `opts` argument."""

    @functools.wraps(fn)
    def wrapper(*args, **params):
        opts = PipeOptions(**{name: params.pop(name) for name in COMMON_NAMES})
        return fn(*args, opts=opts, **params)

    for option in reversed(_COMMON):
        wrapper = option(wrapper)
    return wrapper


def guard(command: str, call: Callable[[], int | None], quiet: bool | None = None) -> int:
    """Run `call`, mapping toolkit errors to one stderr line and an exit status (no traceback)."""
    log.setup(command, log._state["quiet"] if quiet is None else quiet)
    _install_sigterm()
    try:
        return call() or 0
    except CSError as exc:
        log.error(exc.message)
        if log.debug_enabled():
            import traceback

            traceback.print_exc()
        return int(exc.exit_status)
    except KeyboardInterrupt:
        log.error("interrupted")
        return int(ExitStatus.INTERRUPTED)


# "voice" -> the function behind cs-voice that builds its Stage from parsed options; filled when
# creator_tools.commands.voice is imported.
FACTORIES: dict[str, Callable[..., Stage]] = {}


def stage_command(name: str, **command_kwargs) -> Callable[[Callable[..., Stage]], click.Command]:
    """Decorator for `cs-NAME`: the function receives the parsed flags (common ones as `opts`) and returns
    the Stage to run. Its docstring is the --help text."""

    def decorate(fn: Callable[..., Stage]) -> click.Command:
        FACTORIES[name] = fn  # a cluster worker builds the stage with the same factory (cluster.py)

        @functools.wraps(fn)
        def callback(opts: PipeOptions, **params):
            log.setup(f"cs-{name}", opts.quiet)
            opts.recipe = (name, params)
            sys.exit(guard(f"cs-{name}", lambda: run(fn(opts=opts, **params), opts)))

        return click.command(name=f"cs-{name}", cls=Command, context_settings=CONTEXT_SETTINGS, **command_kwargs)(
            common_options(callback)
        )

    return decorate


def _install_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C so temp files are removed and no final path holds a partial file."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
