"""`--log-level`, taken by `lmc` itself and by each subcommand (`lmc run --log-level debug ...`).

The option sets up logging from a click callback as soon as it is parsed (eager), so the command
never sees its value: a command declares it with `log_level: LogLevel = None` and ignores it.
"""

from __future__ import annotations

from typing import Annotated

import typer

from lmc import log


def _setup(value: str | None) -> None:
    if value is None:
        return
    try:
        log.setup(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--log-level") from None


LogLevel = Annotated[str | None, typer.Option(
    "--log-level", metavar="|".join(log.LEVELS), callback=_setup, is_eager=True, expose_value=False,
    help=f"Log to stderr from this level on (default: ${log.ENV}, else {log.DEFAULT}).")]
