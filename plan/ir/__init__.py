"""The intermediate representation the compiler writes and the executor interprets: typed frozen
nodes on a networkx graph."""

from lmc.plan.ir.graph import ENTRY, Graph, Source
from lmc.plan.ir.nodes import (
    NODE_TYPES,
    Assign,
    Branch,
    Break,
    Continue,
    Dynamic,
    Entry,
    Fork,
    Gen,
    HostCall,
    Image,
    Join,
    Loop,
    NewState,
    Node,
    Param,
    Piece,
    Prefix,
    Return,
    RoleBegin,
    RoleEnd,
    Select,
    SetVar,
    Span,
    Text,
    const_name,
    name_head,
    name_pattern,
    node_exprs,
    reads,
    reads_text,
)

__all__ = [
    "ENTRY", "NODE_TYPES", "Assign", "Branch", "Break", "Continue", "Dynamic",
    "Entry", "Fork", "Gen", "Graph", "HostCall", "Image", "Join", "Loop", "NewState", "Node", "Param", "Piece",
    "Prefix", "Return", "RoleBegin", "RoleEnd", "Select", "SetVar", "Source", "Span", "Text", "const_name",
    "node_exprs", "name_head", "name_pattern", "reads", "reads_text",
]
