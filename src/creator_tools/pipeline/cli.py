"""Click glue: the toolkit's usage-error format, the common options, `stage_command` (a cs-* command from a
Stage factory), `guard` (one line per error for non-record subcommands) and shared option types."""

from __future__ import annotations

import functools
import signal
import sys
import threading
from typing import Callable

import click

from .. import log
from ..core import config
from ..errors import CSError, ExitStatus
from . import driver
from .stage import FACTORIES, PipeOptions, Stage

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
    click.option("--cluster", envvar=config.variable("CS_CLUSTER"), metavar="ADDRESS",
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
    except Exception as exc:  # a bug, or a library's own exception in a factory or a subcommand: one line
        if log.debug_enabled():
            import traceback

            traceback.print_exc()
        explained = driver.explain(exc)
        log.error(explained.message)
        return int(explained.exit_status)


def run(stage: Stage, opts: PipeOptions) -> int:
    """driver.run, ordering records on the Dask cluster's workers with --cluster (only then is distributed
    imported; cluster.py builds on the driver, so the driver never imports it)."""
    cluster = None
    if opts.cluster:
        from .. import cluster as dask_cluster

        cluster = dask_cluster.ordered
    return driver.run(stage, opts, cluster)


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


def llm_options(fn: Callable) -> Callable:
    """Add --engine/--model/--seed/--temperature; the callback receives them as one `llm` LLMSettings
    (engines.llm, imported when a command runs: the engine layer knows nothing of click)."""

    @functools.wraps(fn)
    def wrapper(*args, engine, model, seed, temperature, **params):
        from ..engines.llm import LLMSettings

        return fn(*args, llm=LLMSettings(engine, model, seed, temperature), **params)

    options = [
        click.option("--engine", metavar="NAME", help="LLM engine: local (bundled SmolLM2, the default with no API "
                     "configured) or openai (OPENAI_BASE_URL / OPENAI_API_KEY). Env: CS_LLM_ENGINE."),
        click.option("--model", metavar="NAME|PATH", help="Model: a GGUF path for local, a model name for openai. "
                     "Env: CS_LLM_MODEL."),
        click.option("--seed", type=int, help="Seed for repeatable output (local engine). Env: CS_LLM_SEED."),
        click.option("--temperature", type=FiniteRange(0, 2), help="Sampling temperature (default 0.8)."),
    ]
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper
