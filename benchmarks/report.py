"""One way to record a benchmark: a JSON file with its command, machine and rows, and a table."""

from __future__ import annotations

import datetime as _dt
import json
import platform
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table


def machine_info() -> dict[str, Any]:
    """What the numbers were measured on; torch is imported only if already loaded."""
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
    }
    torch = sys.modules.get("torch")
    if torch is not None:
        info["torch"] = torch.__version__
        info["cpu_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            info["device"] = torch.cuda.get_device_name()
    return info


def write_report(
    name: str,
    rows: list[dict[str, Any]],
    out_dir: Path | str = "lmc-bench",
    extra: dict[str, Any] | None = None,
    console: Console | None = None,
) -> Path:
    """Write `<out_dir>/<name>.json` and print the rows as a table; returns the JSON path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    record = {
        "benchmark": name,
        "command": " ".join(["lmc", *sys.argv[1:]]) if sys.argv else "",
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(),
        **(extra or {}),
        "rows": rows,
    }
    path = out / f"{name}.json"
    path.write_text(json.dumps(record, indent=2, sort_keys=False) + "\n")
    print_table(name, rows, console)
    return path


def print_table(title: str, rows: list[dict[str, Any]], console: Console | None = None) -> None:
    console = console or Console()
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    table = Table(title=title)
    for col in columns:
        table.add_column(col, justify="left" if not rows or isinstance(rows[0].get(col), str) else "right")
    for row in rows:
        table.add_row(*(_fmt(row.get(col)) for col in columns))
    console.print(table)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)
