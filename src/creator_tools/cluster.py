"""--cluster ADDRESS: the driver's window of records, run on the workers of a Dask distributed cluster.

The client (the `cs-NAME` process in the pipe) reads its input lazily, submits each record as a Dask task
and writes results in input order, exactly as `-j N` does with threads (driver.ordered). Only the command
name, its parsed options and the record cross the wire: a worker rebuilds the stage with the same factory
the CLI uses (FACTORIES) and keeps it for the life of its process, so models load once per worker.
Workers write artifacts to their own CS_OUT_DIR, which must name the same shared folder (or bucket) as the
client's; `check_workers` refuses to start otherwise, and when a worker runs another creator-tools.

Imported only when --cluster is given: `--help` and local runs never load distributed.
"""

from __future__ import annotations

import functools
import importlib
import os
import uuid
from collections import deque
from typing import TYPE_CHECKING, Any, Iterator

from . import __version__, log
from .core import config
from .core.once import Once
from .errors import ConfigError, CSError, EngineError
from .pipeline import driver
from .pipeline.metrics import Metrics
from .pipeline.stage import FACTORIES, Outcome, PipeOptions, Stage
from .records import Item, new_id

if TYPE_CHECKING:
    from distributed import Client, Future

FAKE_VERSION_ENV = config.variable("CS_FAKE_VERSION")  # tests only: a worker started with it claims that version
CONNECT_TIMEOUT_S = 10
WORKERS_TIMEOUT_ENV = config.variable("CS_CLUSTER_WAIT")  # seconds to wait for a first worker (default 30)


class KilledWorker(EngineError):
    """The record's task took down worker processes more often than the scheduler allows
    (distributed.scheduler.allowed-failures); retried on a later run."""

    retryable = True


# --- the client side ------------------------------------------------------------------------------------


def ordered(stage: Stage, opts: PipeOptions, items: Iterator[Item], metrics: Metrics) -> Iterator[Outcome]:
    """driver.ordered for --cluster: at most 2 x jobs records submitted, results in input order."""
    if opts.recipe is None:  # a group subcommand (cs-publish, cs-stats report) builds its stage by hand
        log.warn("--cluster is not supported by this command; working on this machine")
        yield from driver.ordered(functools.partial(driver.handle, stage, opts), items, opts.jobs, metrics)
        return
    client = connect(opts.cluster)
    try:
        threads = check_workers(client, stage.resources())
        jobs = opts.jobs if opts.jobs_given else threads
        name, params = opts.recipe
        run_id = uuid.uuid4().hex[:8]
        submit = dict(resources=stage.resources() or None, pure=False)
        window: deque[tuple[Item, Future]] = deque()
        try:
            for number, item in enumerate(items, 1):
                metrics.records_in += 1
                try:
                    future = client.submit(work, name, params, opts, item, key=f"cs-{name}-{run_id}-{number}",
                                           **submit)
                except Exception as exc:  # the client closed itself after failing to reconnect
                    raise _lost(opts, exc) from None
                window.append((item, future))
                while len(window) >= 2 * jobs or (window and window[0][1].done()):
                    yield collect(client, stage, opts, *window.popleft())
            while window:
                yield collect(client, stage, opts, *window.popleft())
        finally:
            if window:  # Ctrl-C, SIGTERM, a fatal error or `| head`: what is queued never runs
                _cancel(client, [future for _, future in window])
    finally:
        _close(client)


def collect(client: Client, stage: Stage, opts: PipeOptions, item: Item, future: Future) -> Outcome:
    """The outcome of one record, its messages printed here as if the record had been processed here."""
    from distributed import KilledWorker as DaskKilledWorker

    try:
        outcome, said = future.result()
    except DaskKilledWorker as exc:
        return _killed(stage, opts, item, exc)
    except CSError:
        raise
    except Exception as exc:  # cancelled because the scheduler went away, or a comm error
        if client.status != "running" or type(exc).__name__ in ("CancelledError", "FutureCancelledError"):
            raise _lost(opts, exc) from None
        outcome, said = Outcome(), []
        driver.fail(stage.name, opts, item, CSError(f"unexpected {type(exc).__name__} on the cluster: {exc}"), outcome)
    for level, message in said:
        log.say(level, message)
    return outcome


def _lost(opts: PipeOptions, exc: Exception) -> CSError:
    return CSError(f"lost the Dask scheduler at {opts.cluster} ({type(exc).__name__}); the records written so far "
                   "are done: start the scheduler again and re-run the same command, finished records are skipped")


def _killed(stage: Stage, opts: PipeOptions, item: Item, exc: Exception) -> Outcome:
    outcome = Outcome()
    record = item.record
    if record is not None and "_error" not in record:
        record.setdefault("id", new_id({k: v for k, v in record.items() if not k.startswith("_")}))
    error = KilledWorker("the record's task killed its cluster worker every time it ran (out of memory, a "
                         "crash in an engine, or workers stopped by hand); re-run it later or on a bigger worker")
    driver.fail(stage.name, opts, item, error, outcome)
    return outcome


def connect(address: str) -> Client:
    """A client for `tcp://HOST:PORT` (or any Dask address) or a scheduler file written by
    `dask scheduler --scheduler-file FILE`."""
    import logging

    from distributed import Client

    if not log.debug_enabled():  # its reconnect tracebacks are not for people reading a pipe: collect() says it
        for handler in logging.getLogger("distributed").handlers:
            handler.setLevel(logging.CRITICAL)
    by_file = "://" not in address and (os.path.sep in address or address.endswith(".json") or os.path.exists(address))
    if by_file and not os.path.isfile(address):
        raise ConfigError(f"Dask scheduler file {address} does not exist; start `dask scheduler --scheduler-file "
                          f"{address}` or fix --cluster / CS_CLUSTER")
    target = _address_in(address) if by_file else address
    scheme, _, rest = target.partition("://")
    host, _, port = rest.rpartition(":")
    if scheme not in ("tcp", "tls", "ws", "wss", "ucx") or not host or not port.isdigit():
        raise ConfigError(f"--cluster {address}: not a Dask scheduler address; give tcp://HOST:PORT or the file "
                          "`dask scheduler --scheduler-file FILE` wrote (or fix CS_CLUSTER)")
    try:
        return Client(target, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ConfigError(f"cannot reach the Dask scheduler at {address} ({type(exc).__name__}: {exc}); start it with "
                          "`dask scheduler` or fix --cluster / CS_CLUSTER") from None


def _address_in(path: str) -> str:
    """The scheduler's address from a scheduler file, or a ConfigError that says the file is not one."""
    import json

    try:
        with open(path, encoding="utf-8") as handle:
            address = json.load(handle).get("address")
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        address = None
    if not isinstance(address, str):
        raise ConfigError(f"{path} is not a Dask scheduler file (no \"address\" in it); give the file "
                          "`dask scheduler --scheduler-file FILE` wrote, or tcp://HOST:PORT to --cluster / CS_CLUSTER")
    return address


def check_workers(client: Client, resources: dict[str, float]) -> int:
    """Wait for a worker, refuse workers that run another creator-tools or write to another CS_OUT_DIR, and
    return the cluster's total worker threads (the default -j)."""
    wait = config.number(WORKERS_TIMEOUT_ENV)
    try:
        client.wait_for_workers(1, timeout=wait)
    except TimeoutError:
        raise ConfigError(f"the Dask scheduler has no workers after {wait:g} s; start one with `dask worker "
                          "ADDRESS` (see docs/cluster.md)") from None
    here = facts()
    for address, there in sorted(client.run(facts).items()):
        if there["version"] != here["version"]:
            raise ConfigError(f"worker {there['name']} ({address} on {there['host']}) runs creator-tools {there['version']}, this "
                              f"machine {here['version']}; install the same version on every worker and restart it")
        if there["out_dir"] != here["out_dir"]:
            raise ConfigError(f"worker {there['name']} ({address} on {there['host']}) writes files to {there['out_dir']}, this machine "
                              f"to {here['out_dir']}; start every worker with CS_OUT_DIR set to the same shared "
                              "folder or s3:// bucket")
    workers = client.scheduler_info(n_workers=-1)["workers"] if _takes_n_workers(client) else client.scheduler_info()["workers"]
    for resource, amount in resources.items():
        if not any(w.get("resources", {}).get(resource, 0) >= amount for w in workers.values()):
            raise ConfigError(f"this run needs a worker with resource {resource}={amount:g} and none has it; start "
                              f"one with `dask worker ADDRESS --resources {resource}={amount:g}`")
    return max(1, sum(w.get("nthreads", 1) for w in workers.values()))


def _takes_n_workers(client: Client) -> bool:
    import inspect

    return "n_workers" in inspect.signature(client.scheduler_info).parameters


def _cancel(client: Client, futures: list[Future]) -> None:
    try:
        client.cancel(futures, force=True)
    except Exception:  # the scheduler is gone, and the queue with it
        pass


def _close(client: Client) -> None:
    try:
        client.close(timeout=3)
    except Exception:  # a scheduler already gone: nothing left to release
        pass


# --- the worker side ------------------------------------------------------------------------------------

_stages = Once()


def work(name: str, params: dict[str, Any], opts: PipeOptions, item: Item) -> tuple[Outcome, list]:
    """One record on a worker: the driver's own per-record handling, with its stderr lines sent back."""
    with log.capture() as said:
        try:
            stage = stage_for(name, params, opts)
        except CSError as exc:
            outcome = Outcome()
            driver.fail(name, opts, item, exc, outcome)
            return outcome, said
        return driver.handle(stage, opts, item), said


def stage_for(name: str, params: dict[str, Any], opts: PipeOptions) -> Stage:
    """The stage for these options, built once per worker process by the command's own factory."""
    key = (name, repr(sorted(params.items())), opts.force, opts.dry_run)

    def build() -> Stage:
        importlib.import_module(f"creator_tools.commands.{name}")  # registers FACTORIES[name]
        return FACTORIES[name](opts=opts, **params)

    return _stages.get(key, build)


def facts(dask_worker: Any = None) -> dict[str, str]:
    """What must agree between the client and every worker (Client.run passes `dask_worker`)."""
    import socket

    where = config.out_location()  # as given: pathlib would turn s3://b into s3:/b
    name = str(dask_worker.name) if dask_worker is not None else "client"
    return {"version": version(), "name": name, "host": socket.gethostname(),
            "out_dir": where if "://" in where else os.path.abspath(where)}


def version() -> str:
    """creator-tools' version plus a hash of its installed source, so an edited checkout counts as different.
    CS_FAKE_VERSION replaces it: the tests start one worker with it to see the mismatch reported."""
    fake = config.get(FAKE_VERSION_ENV)
    return fake or f"{__version__}+{_source_hash()}"


_hash: list[str] = []


def _source_hash() -> str:
    if not _hash:
        import hashlib
        from pathlib import Path

        root = Path(__file__).resolve().parent
        digest = hashlib.sha256()
        for path in sorted(root.rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
        _hash.append(digest.hexdigest()[:12])
    return _hash[0]
