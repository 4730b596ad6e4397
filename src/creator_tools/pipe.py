"""The pipe contract, implemented once; this module is the facade commands import (`pipe.Stage`,
`pipe.stage_command`, `pipe.run`, `pipe.guard`, `pipe.output_path`, `pipe.special_file`, ...).

The pieces live in creator_tools/pipeline/, one concern each:
- stage.py: `Stage` (what a command does to one record), `PipeOptions`, `Outcome`, `FACTORIES`;
- driver.py: the record driver (lazy reading, `-j` window, error records, exit codes, skipping done work);
- outputs.py: -o, --metrics and other output files (`output_path`, `special_file`);
- metrics.py: `Metrics` (Prometheus text);
- cli.py: click glue (`stage_command`, `common_options`, `guard`, `Command`, `Group`, `FiniteRange`,
  `llm_options`).
"""

from __future__ import annotations

from .pipeline.cli import (COMMON_NAMES, CONTEXT_SETTINGS, Command, FiniteRange, Group, common_options, guard,
                           llm_options, run, stage_command)
from .pipeline.driver import Stop, explain, fail, handle, ordered
from .pipeline.metrics import Metrics
from .pipeline.outputs import Output, output_path, special_file, write_metrics
from .pipeline.stage import FACTORIES, Outcome, PipeOptions, Stage

__all__ = ["COMMON_NAMES", "CONTEXT_SETTINGS", "Command", "FACTORIES", "FiniteRange", "Group", "Metrics", "Outcome",
           "Output", "PipeOptions", "Stage", "Stop", "common_options", "explain", "fail", "guard", "handle",
           "llm_options", "ordered", "output_path", "run", "special_file", "stage_command", "write_metrics"]
