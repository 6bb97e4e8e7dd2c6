"""Logging for lmc: modules log to `logging.getLogger(__name__)` (all under the `lmc` logger);
`setup` is called once by the CLI with `--log-level` or `LMC_LOG_LEVEL`.

On a terminal the lines are rich-formatted; piped or redirected they are plain text with a
timestamp, so log files stay greppable. Engine events (steps, evictions, preemptions) are DEBUG,
fallbacks the user may not expect (no flashinfer, a chat template that cannot be cut per role)
are WARNING.
"""

from __future__ import annotations

import logging
import os
import sys

LEVELS = ("debug", "info", "warning", "error")
ENV = "LMC_LOG_LEVEL"
DEFAULT = "warning"
PLAIN_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is at the time of the record (test runners swap it)."""

    @property  # type: ignore[override]
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass


def level_from(value: str | None) -> int:
    """The logging level of `value`, else of $LMC_LOG_LEVEL, else WARNING; ValueError if unknown."""
    name = (value or os.environ.get(ENV) or DEFAULT).strip().lower()
    if name not in LEVELS:
        source = "" if value else f"${ENV}="
        raise ValueError(f"{source}{name!r} is not one of {', '.join(LEVELS)}")
    return getattr(logging, name.upper())


def setup(value: str | None = None, rich: bool | None = None) -> None:
    """Configure the `lmc` logger: the level (see `level_from`) and one stderr handler, rich on a
    terminal (`rich=None` asks `sys.stderr.isatty()`). Calling it again replaces the handler."""
    logger = logging.getLogger("lmc")
    logger.setLevel(level_from(value))
    for handler in [h for h in logger.handlers if getattr(h, "lmc_handler", False)]:
        logger.removeHandler(handler)
    handler: logging.Handler
    if rich if rich is not None else sys.stderr.isatty():
        from rich.console import Console
        from rich.logging import RichHandler

        handler = RichHandler(console=Console(stderr=True), show_path=False, rich_tracebacks=False)
    else:
        handler = _Stderr()
        handler.setFormatter(logging.Formatter(PLAIN_FORMAT))
    handler.lmc_handler = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
