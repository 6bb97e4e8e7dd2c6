"""`lmc explain`: a plan as a rich tree, DOT, SVG or one HTML page, plus the predicted cache plan."""

from lmc.compiler.explain.dot import GraphvizMissing, to_dot, to_svg
from lmc.compiler.explain.html import to_html
from lmc.compiler.explain.tree import (
    cache_tables,
    constraints_table,
    plan_tree,
    stats_line,
)

__all__ = [
    "GraphvizMissing", "cache_tables", "constraints_table",
    "plan_tree", "stats_line", "to_dot", "to_html", "to_svg",
]
