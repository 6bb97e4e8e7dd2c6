"""plan.json: a compiled program as versioned, validated, deterministic JSON (no code, no pickles).

The same program and options always give byte-identical files (sorted keys and lists, no
timestamps), so plans can be diffed and cached. Loading checks the format version (a plan of
another version is refused with both versions named) and validates against the shipped JSON
Schema `plan.schema.json`. A plan with dynamic regions is refused at run time when its program
source changed since compilation (`check_sources`, both hashes named).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import lmc
from lmc.compiler.errors import PlanError
from lmc.compiler.frontend.source import file_sha256
from lmc.compiler.ir import ENTRY, Dynamic, Fork, Gen, Graph, Prefix, Select
from lmc.compiler.options import CompileOptions
from lmc.compiler.plan_codec import graph_from_json, graph_to_json

PLAN_FORMAT = "lmc-plan"
PLAN_VERSION = 1
SCHEMA_PATH = Path(__file__).with_name("plan.schema.json")


@cache
def _validator() -> Any:
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text())
    return jsonschema.Draft202012Validator(schema)


def validate(data: dict[str, Any]) -> None:
    """Raise PlanError naming the first place where `data` breaks the plan schema."""
    error = next(iter(_validator().iter_errors(data)), None)
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise PlanError(f"the plan does not match plan.schema.json at {where}: {error.message}")


@dataclass
class Plan:
    """An optimized program: its graph (with the passes' tables in `graph.meta`) and options."""

    graph: Graph
    options: CompileOptions = field(default_factory=CompileOptions)
    compile_seconds: float | None = field(default=None, compare=False)

    @property
    def name(self) -> str:
        return self.graph.entry.name

    @property
    def has_dynamic_regions(self) -> bool:
        return bool(self.graph.nodes_of(Dynamic))

    def stats(self) -> dict[str, int]:
        g = self.graph
        return {
            "nodes": len(g.g) - 1,
            "gens": len(g.nodes_of(Gen)),
            "selects": len(g.nodes_of(Select)),
            "forks": len(g.nodes_of(Fork)),
            "shared_prefixes": len(g.nodes_of(Prefix)),
            "constraints": len(g.meta.get("constraints", {})),
            "dynamic_regions": len(g.nodes_of(Dynamic)),
        }

    # -- JSON ----------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        entry = self.graph.entry
        graph = graph_to_json(self.graph)
        return {
            "format": PLAN_FORMAT,
            "version": PLAN_VERSION,
            "lmc_version": lmc.__version__,
            "program": {
                "name": entry.name,
                "entry": ENTRY,
                "params": [{"name": p.name, "annotation": p.annotation, "default": p.default,
                            "required": p.required} for p in entry.params],
                "has_dynamic_regions": self.has_dynamic_regions,
            },
            "sources": graph["sources"],
            "options": {
                "disabled_passes": list(self.options.disabled_passes),
                "memory_budget_tokens": self.options.memory_budget_tokens,
                "max_loop_iterations": self.options.max_loop_iterations,
            },
            "passes": list(self.graph.meta.get("passes", [])),
            "nodes": graph["nodes"],
            "edges": graph["edges"],
            "constraints": self.graph.meta.get("constraints", {}),
            "order": self.graph.meta.get("order"),
            "stats": self.stats(),
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=1, sort_keys=True, ensure_ascii=False) + "\n"

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.dumps(), encoding="utf-8")
        return path

    @classmethod
    def from_json(cls, data: Any) -> Plan:
        if not isinstance(data, dict) or data.get("format") != PLAN_FORMAT:
            raise PlanError("this file is not an lmc plan (no \"format\": \"lmc-plan\")")
        version = data.get("version")
        if version != PLAN_VERSION:
            raise PlanError(
                f"this plan has format version {version!r} ({type(version).__name__}, written by lmc "
                f"{data.get('lmc_version', '?')}); this lmc ({lmc.__version__}) reads version {PLAN_VERSION!r} "
                f"({type(PLAN_VERSION).__name__}): recompile it with `lmc compile`"
            )
        validate(data)
        meta: dict[str, Any] = {"passes": data["passes"], "constraints": data["constraints"]}
        if data["order"] is not None:
            meta["order"] = data["order"]
        graph = graph_from_json(data, meta)
        opts = data["options"]
        options = CompileOptions(tuple(opts["disabled_passes"]), None, opts["memory_budget_tokens"],
                                 opts["max_loop_iterations"])
        return cls(graph, options)

    @classmethod
    def loads(cls, text: str) -> Plan:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PlanError(f"the plan is not valid JSON: {exc}") from None
        return cls.from_json(data)

    @classmethod
    def load(cls, path: str | Path) -> Plan:
        return cls.loads(Path(path).read_text(encoding="utf-8"))

    # -- source check --------------------------------------------------------------------------
    def check_sources(self) -> None:
        """Refuse a plan whose program files changed since it was compiled."""
        for source in self.graph.sources:
            if not Path(source.path).is_file():
                raise PlanError(f"the plan's program file {source.path} no longer exists; "
                                "its dynamic regions need it: recompile the plan")
            now = file_sha256(source.path)
            if now != source.sha256:
                raise PlanError(
                    f"{source.path} changed since this plan was compiled (sha256 {source.sha256[:12]}… "
                    f"in the plan, {now[:12]}… now); recompile it: lmc compile {source.path}"
                )
