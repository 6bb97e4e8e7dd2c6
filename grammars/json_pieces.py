"""Pieces of the JSON schema translation: regexes for JSON text, keyword sets, and small helpers
over schema dicts and regex fragments (None stands for the empty language throughout)."""

from __future__ import annotations

import math
from typing import Any

from lmc.grammars.errors import SchemaError

STRING_CHAR = r'(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u(?:[0-9a-cA-CefEF][0-9a-fA-F]{3}|[dD][0-7][0-9a-fA-F]{2}))'

DAY_ = r"(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))"
DATE_ = r"[0-9]{4}-" + DAY_
TIME_ = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
OCTET_ = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
FORMATS = {
    "date": DATE_,
    "time": TIME_,
    "date-time": DATE_ + "T" + TIME_,
    "uuid": r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
    "email": r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,4}\.[A-Za-z]{2,24}",
    "ipv4": rf"{OCTET_}(?:\.{OCTET_}){{3}}",
}

ANNOTATIONS = {
    "title", "description", "default", "examples", "$schema", "$id", "$comment", "deprecated",
    "readOnly", "writeOnly", "$defs", "definitions", "format", "contentMediaType", "$anchor",
}
UNSUPPORTED = {
    "multipleOf", "not", "if", "then", "else", "patternProperties", "propertyNames",
    "dependentRequired", "dependentSchemas", "dependencies", "unevaluatedProperties",
    "unevaluatedItems", "contains", "minContains", "maxContains", "minProperties", "maxProperties",
}
KEYWORDS_BY_TYPE = {
    "object": {"properties", "required", "additionalProperties"},
    "array": {"items", "prefixItems", "minItems", "maxItems", "uniqueItems"},
    "string": {"minLength", "maxLength", "pattern"},
    "number": {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"},
}




def object_members(members: list[tuple[str, bool]], comma: str) -> str | None:
    """Properties in order, each optional one possibly absent, commas only between present ones.

    The first present property has no comma before it; every later one has one. So the regex is
    an alternation over which optional property comes first, up to the first required one.
    """
    def rest(i: int) -> str:
        return "".join(f"{comma}{m}" if req else f"(?:{comma}{m})?" for m, req in members[i:])

    options = []
    for i, (m, req) in enumerate(members):
        options.append(m + rest(i + 1))
        if req:
            return alt(options)
    return f"(?:{'|'.join(options)})?"


def join(parts: list[str | None], sep: str) -> str | None:
    """Fragments one after another with `sep` between; None if any is impossible."""
    if any(p is None for p in parts):
        return None
    return sep.join(p for p in parts if p is not None)


def infer_type(schema: dict) -> str | None:
    for kind, keys in KEYWORDS_BY_TYPE.items():
        if keys & set(schema):
            return kind
    return None


def bound(schema: dict, key: str) -> float | None:
    """`minimum` or `maximum`, or the (draft 6+) numeric exclusive form when that is given."""
    exclusive = schema.get("exclusiveM" + key[1:])
    if exclusive is not None and not isinstance(exclusive, bool):
        return exclusive
    return schema.get(key)


def int_bounds(schema: dict) -> tuple[int | None, int | None]:
    lo, hi = bound(schema, "minimum"), bound(schema, "maximum")
    ex_lo = "exclusiveMinimum" in schema and not isinstance(schema["exclusiveMinimum"], bool)
    ex_hi = "exclusiveMaximum" in schema and not isinstance(schema["exclusiveMaximum"], bool)
    low = None if lo is None else (math.floor(lo) + 1 if ex_lo else math.ceil(lo))
    high = None if hi is None else (math.ceil(hi) - 1 if ex_hi else math.floor(hi))
    return low, high


def resolve(root: Any, ref: str, ptr: str) -> Any:
    if not ref.startswith("#"):
        raise SchemaError(ptr, f"only local references ('#/...') are supported, got {ref!r}")
    node = root
    for part in [p for p in ref[1:].split("/") if p]:
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            raise SchemaError(ptr, f"reference {ref!r} does not resolve")
        node = node[part]
    return node


def alt(parts: list[str | None]) -> str | None:
    kept = list(dict.fromkeys(p for p in parts if p is not None))
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else "(?:" + "|".join(kept) + ")"
