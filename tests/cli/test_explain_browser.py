"""Every example's `lmc explain --format html` page in a real headless Chromium: the legend is
there, the graph has one box per step, and nothing is wider than the window. Screenshots of the
judge and tree-of-thought pages go to the test's temporary folder, or to benchmarks/results/explain/
(committed for readers) when LMC_SAVE_SCREENSHOTS=1."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lmc.cli.main import app
from lmc.compiler.api import compile as compile_program
from lmc.compiler.explain.picture import Picture
from lmc.compiler.loader import load_programs
from lmc.runtime.tokenizer import load_tokenizer, role_texts

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p.stem for p in (ROOT / "examples").glob("*.py") if p.stem != "make_data")
SHOTS = ROOT / "benchmarks" / "results" / "explain"
SCREENSHOT = ("llm_judge", "tree_of_thought")
ROWS = 8  # of each data file: enough for the cache plan, quick to predict
CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
WIDTH = 1280
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--window-size={WIDTH},1600"]
# Measures the page after layout and writes the result into the DOM, which --dump-dom returns.
PROBE = """<script>
const svg = document.querySelector('.graph svg');
document.body.setAttribute('data-probe', JSON.stringify({
  scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth,
  svgRight: svg ? svg.getBoundingClientRect().right : 0,
  steps: document.querySelectorAll('svg g.node[id^="step-"]').length,
  legend: document.querySelectorAll('#legend li').length,
  folds: document.querySelectorAll('ol.steps details').length}));
</script>"""

pytestmark = pytest.mark.skipif(CHROMIUM is None or shutil.which("dot") is None,
                                reason="needs Chromium and Graphviz (Debian: apt-get install chromium graphviz)")
runner = CliRunner()


def _chromium(tmp_path: Path, *args: str) -> str:
    profile = tmp_path / "chromium-profile"
    result = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                            text=True, timeout=60, check=True)
    return result.stdout


@pytest.mark.parametrize("example", EXAMPLES)
def test_example_page_in_a_browser(example, tmp_path, small_model_dir):
    program = next(iter(load_programs(ROOT / "examples" / f"{example}.py").values()))  # as `lmc bench run`
    plan_path = tmp_path / f"{example}.json"
    plan = compile_program(program)
    plan.save(plan_path)
    page = tmp_path / f"{example}.html"
    data = tmp_path / "data.jsonl"
    data.write_text("".join((ROOT / "examples" / "data" / f"{example}.jsonl").read_text().splitlines(True)[:ROWS]))
    result = runner.invoke(app, ["explain", str(plan_path), "-f", "html", "-o", str(page), "--inputs", str(data),
                                 "--model", str(small_model_dir)])
    assert result.exit_code == 0, result.output
    text = page.read_text()
    roles, _ = role_texts(load_tokenizer(str(small_model_dir)))
    steps = list(Picture(plan.graph, roles).steps())
    assert "&lt;system&gt;" not in text and "&lt;user&gt;" not in text  # the template's own text instead
    assert not any(re.fullmatch(r"\w+ \+= '\s*'", s.text) for s in steps)  # no whitespace-only boxes

    probe_page = tmp_path / f"{example}.probe.html"
    probe_page.write_text(text.replace("</body>", PROBE + "</body>"))
    dom = _chromium(tmp_path, "--dump-dom", probe_page.as_uri())
    probe = json.loads(html.unescape(re.search(r'data-probe="([^"]*)"', dom).group(1)))
    assert probe["legend"] >= 4
    assert probe["steps"] == len(steps) + 2  # every step, plus start and end
    assert probe["scroll"] <= probe["client"] and probe["svgRight"] <= probe["client"]
    regions = sum(1 for _ in re.finditer(r'<details class="(region|lane)"', text))
    assert probe["folds"] == regions

    if example not in SCREENSHOT:
        return
    shots = SHOTS if os.environ.get("LMC_SAVE_SCREENSHOTS") == "1" else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    shot = shots / f"{example}.png"
    _chromium(tmp_path, f"--screenshot={shot}", page.as_uri())
    assert shot.stat().st_size > 10_000
