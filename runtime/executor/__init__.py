"""The plan executor: rows of a plan as coroutines over the engine, results streamed in order."""

from lmc.runtime.executor.execute import RunOptions, execute
from lmc.runtime.executor.file_run import RunSummary, run_file
from lmc.runtime.executor.program_api import ProgramState, RowFailed, run_program
from lmc.runtime.executor.results import RowFailure, RowResult

__all__ = [
    "ProgramState", "RowFailed", "RowFailure", "RowResult", "RunOptions", "RunSummary", "execute",
    "run_file", "run_program",
]
