"""Fixtures for compiler tests: write a program file, import it, get its programs."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from lmc.compiler.loader import load_programs
from lmc.plan.program import Program


@pytest.fixture
def programs(tmp_path: Path) -> Callable[[str], dict[str, Program]]:
    """`programs(source)` writes `import lmc` + source to a fresh file and returns its programs."""
    counter = [0]

    def load(source: str, name: str = "prog") -> dict[str, Program]:
        counter[0] += 1
        path = tmp_path / f"{name}_{counter[0]}.py"
        path.write_text("import lmc\n\n" + textwrap.dedent(source).lstrip("\n"))
        return load_programs(path)

    return load


@pytest.fixture
def program(programs: Callable[[str], dict[str, Program]]) -> Callable[[str], Program]:
    """`program(source)`: the last program the source defines."""
    return lambda source: list(programs(source).values())[-1]
