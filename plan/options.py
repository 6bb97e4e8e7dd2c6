"""The one place compile-time settings live; passed down to every pass, never read globally."""

from __future__ import annotations

from dataclasses import dataclass

PASS_NAMES = (
    "hoist_shared_prefixes",
    "merge_forks",
    "prefetch_kv",
    "precompile_constraints",
    "order",
)


@dataclass(frozen=True)
class CompileOptions:
    """What the compiler may do.

    `disabled_passes` turns passes off by name so their effect can be measured (`order` off: the
    executor keeps the input order). `max_loop_iterations` bounds dynamic `while` loops at run
    time (a row that exceeds it fails).
    """

    disabled_passes: tuple[str, ...] = ()
    max_loop_iterations: int = 64

    def __post_init__(self) -> None:
        unknown = sorted(set(self.disabled_passes) - set(PASS_NAMES))
        if unknown:
            raise ValueError(f"unknown pass {unknown[0]!r}; passes are: {', '.join(PASS_NAMES)}")
        if self.max_loop_iterations <= 0:
            raise ValueError(f"max_loop_iterations must be > 0, got {self.max_loop_iterations}")
        object.__setattr__(self, "disabled_passes", tuple(sorted(set(self.disabled_passes))))

    def enabled(self, name: str) -> bool:
        return name not in self.disabled_passes
