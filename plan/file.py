"""plan.json: a compiled program as versioned, validated, deterministic JSON (no code, no pickles).

The same program and options always give byte-identical files (sorted keys and lists, no
timestamps), so plans can be diffed and cached. Loading checks the format version (a plan of
another version is refused with both versions named) and validates against the shipped JSON
Schema `plan.schema.json`; a version-1 plan is read by dropping what later versions no longer
hold (`_from_version_1`), a version-2 or 3 plan as it is (version 3 added host-call nodes, version 4
`s.text()` expressions and `set_var`/`new_state` nodes). A plan with
dynamic regions or host calls is refused at run time when its program source changed since
compilation (`check_sources`, both hashes named).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import lmc
from lmc.plan.codec import graph_from_json, graph_to_json
from lmc.plan.errors import PlanError
from lmc.plan.ir import ENTRY, Dynamic, Fork, Gen, Graph, HostCall, Prefix, Select
from lmc.plan.options import CompileOptions
from lmc.plan.sources import file_sha256

PLAN_FORMAT = "lmc-plan"
PLAN_VERSION = 4
# 1 also held a compile-time row order, now the runtime's (plan/README.md); 3 added `call` nodes;
# 4 added `statetext` expressions and `set_var`/`new_state` nodes
READS_VERSIONS = (1, 2, 3, 4)
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

    @property
    def has_host_calls(self) -> bool:
        """Any `call` node at all (reachable or not): such a plan runs Python when it runs."""
        return any(isinstance(data["node"], HostCall) for _, data in self.graph.g.nodes(data=True))

    @property
    def needs_sources(self) -> bool:
        """Dynamic regions and host calls run code of the program's files at run time."""
        return self.has_host_calls or self.has_dynamic_regions

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
            "host_calls": len(g.nodes_of(HostCall)),
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
                "max_loop_iterations": self.options.max_loop_iterations,
            },
            "passes": list(self.graph.meta.get("passes", [])),
            "nodes": graph["nodes"],
            "edges": graph["edges"],
            "constraints": self.graph.meta.get("constraints", {}),
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
        if version not in READS_VERSIONS:
            raise PlanError(
                f"this plan has format version {version!r} ({type(version).__name__}, written by lmc "
                f"{data.get('lmc_version', '?')}); this lmc ({lmc.__version__}) reads versions "
                f"{', '.join(f'{v!r} ({type(v).__name__})' for v in READS_VERSIONS)}: recompile it with `lmc compile`"
            )
        if version == 1:
            data = _from_version_1(data)
        validate(data)
        meta: dict[str, Any] = {"passes": data["passes"], "constraints": data["constraints"]}
        graph = graph_from_json(data, meta)
        opts = data["options"]
        return cls(graph, CompileOptions(tuple(opts["disabled_passes"]), opts["max_loop_iterations"]))

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
                                "its dynamic regions and host calls need it: recompile the plan")
            now = file_sha256(source.path)
            if now != source.sha256:
                raise PlanError(
                    f"{source.path} changed since this plan was compiled (sha256 {source.sha256[:12]}… "
                    f"in the plan, {now[:12]}… now); recompile it: lmc compile {source.path}"
                )


def _from_version_1(data: dict[str, Any]) -> dict[str, Any]:
    """A version-1 plan as version 3: its compile-time row order and memory budget are dropped
    (the executor orders the rows it is given, with the model's tokenizer); the rest is the same."""
    options = {k: v for k, v in data.get("options", {}).items() if k != "memory_budget_tokens"}
    return {**{k: v for k, v in data.items() if k != "order"}, "version": PLAN_VERSION, "options": options}
