"""The Stage base (what one command does to one record), the parsed common options, and what one input
line became (Outcome). No click: the CLI layer (pipeline/cli.py) builds these from flags."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Callable, Iterable, Iterator

from .. import schemas
from ..errors import CSError, MissingInput
from ..records import Item, Record, fingerprint


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
        from .. import artifacts  # pathlib, and boto3 only for an s3:// URI

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




# "voice" -> the function behind cs-voice that builds its Stage from parsed options; filled when
# creator_tools.commands.voice is imported (cli.stage_command), read by cluster workers to rebuild a stage.
FACTORIES: dict[str, Callable[..., Stage]] = {}
