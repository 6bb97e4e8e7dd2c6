"""The layers: `lmc.plan` imports neither the compiler nor the runtime, and those two never
import each other (only lmc/api.py, the CLI and the benchmarks see both).

Checked twice: statically, every `import` in the files (lazy ones inside functions included),
and at run time, importing every module of a layer in a fresh interpreter and reading
`sys.modules`.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ABOVE = ("lmc.api", "lmc.cli", "lmc.benchmarks")
FORBIDDEN = {
    "plan": ("lmc.compiler", "lmc.runtime", *ABOVE),
    "compiler": ("lmc.runtime", *ABOVE),
    "runtime": ("lmc.compiler", *ABOVE),
}


def imported_modules(path: Path) -> set[str]:
    """Every module an `import` or `from ... import` in the file names (absolute imports)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import; lmc uses absolute imports"
            names.add(node.module or "")
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _hits(names: set[str], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(n for n in names if any(n == f or n.startswith(f + ".") for f in forbidden))


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_static_imports_respect_the_layers(layer):
    files = sorted((ROOT / layer).rglob("*.py"))
    assert files, f"no Python files under {layer}/"
    bad = {str(f.relative_to(ROOT)): hits for f in files if (hits := _hits(imported_modules(f), FORBIDDEN[layer]))}
    assert bad == {}


def test_the_static_check_sees_lazy_imports(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from lmc.runtime import engine\n    import lmc.compiler.api\n")
    assert _hits(imported_modules(sample), FORBIDDEN["plan"]) == ["lmc.compiler.api", "lmc.runtime", "lmc.runtime.engine"]


_PROBE = """
import importlib, json, pkgutil, sys
package = importlib.import_module(sys.argv[1])
for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
    importlib.import_module(info.name)
print(json.dumps(sorted(sys.modules)))
"""


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_loaded_modules_respect_the_layers(layer):
    out = subprocess.run([sys.executable, "-c", _PROBE, f"lmc.{layer}"], capture_output=True, text=True,
                         check=True, timeout=300)
    loaded = set(json.loads(out.stdout))
    assert f"lmc.{layer}" in loaded
    assert _hits(loaded, FORBIDDEN[layer]) == []


_HOST_PROBE = """
import json, sys
from lmc.plan.ir import Source
from lmc.runtime.executor.host_calls import HostFunctions
shout = HostFunctions([Source(sys.argv[1], "")]).resolve("prog:shout", 0)
print(json.dumps([shout("hi"), sorted(sys.modules)]))
"""


def test_a_run_that_imports_a_program_file_for_its_host_calls_loads_no_compiler(tmp_path):
    """The file imports lmc and decorates programs; `lmc.compile` loads the compiler only when
    it is called, so the run's process stays on its side of the layers."""
    path = tmp_path / "prog.py"
    path.write_text("import lmc\n\ndef shout(x):\n    return x.upper()\n\n"
                    "@lmc.program\ndef p(s, q: str):\n    s += shout(q)\n")
    out = subprocess.run([sys.executable, "-c", _HOST_PROBE, str(path)], capture_output=True, text=True,
                         check=True, timeout=300)
    result, loaded = json.loads(out.stdout)
    assert result == "HI" and "lmc.api" in loaded  # the program file's own `@lmc.program`
    assert _hits(set(loaded), ("lmc.compiler",)) == []
