"""pyproject.toml ships every package of the tree (the repository root is the package `lmc`, so
setuptools is given the list by hand) and the data files the code opens."""

from __future__ import annotations

from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_is_listed():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = {"lmc" if d == ROOT else "lmc." + ".".join(d.relative_to(ROOT).parts)
             for d in [ROOT, *ROOT.rglob("*")]
             if d.is_dir() and (d / "__init__.py").is_file() and "tests" not in d.relative_to(ROOT).parts}
    assert set(config["packages"]) == found
    for pattern in config["package-data"]["lmc"]:
        assert list(ROOT.glob(pattern)), f"package-data {pattern!r} matches no file"
