"""JSON schema to regex, so that a schema constraint is just another regular constraint.

What the regex generates (every output validates with `jsonschema`; some valid documents are
never produced, which is fine for generation):
- objects: declared properties in schema order, required ones always, optional ones possibly
  absent; no extra properties (so `additionalProperties: false` holds trivially). An object with
  no declared properties takes string keys with values of `additionalProperties` (any value if
  absent). `minProperties`/`maxProperties` are refused.
- arrays: `items`, `prefixItems`, `minItems`, `maxItems`; `uniqueItems: true` is refused.
- strings: `minLength`/`maxLength` (in characters; escapes count as one), `pattern` (matched
  against the raw JSON text between the quotes, so it should not match `"`, `\\` or control
  characters), formats date, time, date-time, uuid, email, ipv4 (others are annotations).
- integers: exact bounds; numbers: exact whole-number bounds (see `json_numbers`).
- `enum`, `const`, `anyOf`, `oneOf` (as alternation: `oneOf` branches should be disjoint), a
  single-schema `allOf`, `$ref` into `$defs`/`definitions` (recursion unrolled
  `recursion_depth` times, an error by default), `true`/`{}` for any value (nested
  `any_depth` deep).
- whitespace: "compact" (`{"a":1,"b":[2,3]}`), "spaced" (`json.dumps` default:
  `{"a": 1, "b": [2, 3]}`) or an int n (up to n of space/tab/newline around every token).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from json.encoder import encode_basestring
from typing import Any

from lmc.grammars.errors import SchemaError
from lmc.grammars.json_numbers import integer_regex, number_regex
from lmc.grammars.json_pieces import (
    ANNOTATIONS,
    FORMATS,
    STRING_CHAR,
    UNSUPPORTED,
    alt,
    bound,
    infer_type,
    int_bounds,
    join,
    object_members,
    resolve,
)


@dataclass(frozen=True)
class JsonOptions:
    """How much freedom the generated JSON text has beyond the schema."""

    whitespace: str | int = "compact"
    recursion_depth: int = 0
    any_depth: int = 2

    def __post_init__(self) -> None:
        ws = self.whitespace
        if not (ws in ("compact", "spaced") or (isinstance(ws, int) and not isinstance(ws, bool) and ws >= 0)):
            raise SchemaError("#", f'whitespace must be "compact", "spaced" or an int >= 0, got {ws!r}')


def json_schema_to_regex(schema: dict | bool | str, options: JsonOptions | None = None) -> str:
    """A regex whose matches are JSON texts valid under `schema` (a dict, bool or JSON text)."""
    if isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except json.JSONDecodeError as e:
            raise SchemaError("#", f"not valid JSON: {e}") from None
    builder = _Builder(schema, options or JsonOptions())
    regex = builder.value(schema, "#")
    if regex is None:
        raise SchemaError("#", "no JSON value satisfies this schema (as far as lmc can generate)")
    return regex


def build_regex_from_object(obj: Any, whitespace_pattern: str | None = None) -> str:
    """SGLang's helper (from outlines), for programs ported from it: the regex of the JSON that a
    pydantic model class, a schema dict or a schema's JSON text allows. lmc writes compact JSON;
    other layouts are `json_schema_to_regex(schema, JsonOptions(whitespace=...))`."""
    if whitespace_pattern is not None:
        raise SchemaError("#", "whitespace_pattern is not supported: use json_schema_to_regex(schema, "
                               "JsonOptions(whitespace=...)) for spaced or indented JSON")
    schema = obj.model_json_schema() if hasattr(obj, "model_json_schema") else obj
    return json_schema_to_regex(schema)


class _Builder:
    """Schema nodes to regex fragments; None is the empty language (an impossible branch)."""

    def __init__(self, root: Any, options: JsonOptions) -> None:
        self.root = root
        self.options = options
        self.active_refs: list[str] = []
        ws = options.whitespace
        if ws == "compact":
            self.comma, self.colon, self.pad = ",", ":", ""
        elif ws == "spaced":
            self.comma, self.colon, self.pad = ", ", ": ", ""
        else:
            w = f"[ \\t\\n\\r]{{0,{ws}}}" if ws else ""
            self.comma, self.colon, self.pad = f"{w},{w}", f"{w}:{w}", w

    def literal(self, value: Any) -> str:
        """The regex for one fixed JSON value, written the way this whitespace policy writes."""
        if isinstance(value, str):  # enums of hundreds of strings: skip json.dumps's encoder setup
            return re.escape(encode_basestring(value))
        separators = (",", ":") if self.options.whitespace != "spaced" else (", ", ": ")
        return re.escape(json.dumps(value, ensure_ascii=False, separators=separators))

    def value(self, schema: Any, ptr: str) -> str | None:
        if schema is True or schema == {}:
            return self.any_value(self.options.any_depth)
        if schema is False:
            return None
        if not isinstance(schema, dict):
            raise SchemaError(ptr, f"a schema must be an object or a boolean, got {schema!r}")
        unsupported = sorted(set(schema) & UNSUPPORTED)
        if unsupported or schema.get("uniqueItems") is True and schema.get("maxItems", 2) > 1:
            names = ", ".join(unsupported) or "uniqueItems"
            raise SchemaError(ptr, f"unsupported keyword(s) {names}: a regex cannot enforce them; drop them or restructure the schema")
        if "$ref" in schema:
            return self.ref(schema, ptr)
        if "const" in schema:
            return self.literal(schema["const"])
        if "enum" in schema:
            return alt([self.literal(v) for v in schema["enum"]])
        for key in ("anyOf", "oneOf"):
            if key in schema:
                return self.alternatives(schema, key, ptr)
        if "allOf" in schema:
            return self.all_of(schema, ptr)
        types = schema.get("type", infer_type(schema))
        if isinstance(types, list):
            return alt([self.typed({**schema, "type": t}, t, ptr) for t in types])
        return self.typed(schema, types, ptr)

    def typed(self, schema: dict, kind: str | None, ptr: str) -> str | None:
        if kind is None:
            return self.any_value(self.options.any_depth)
        if kind == "null":
            return "null"
        if kind == "boolean":
            return "(?:true|false)"
        if kind == "integer":
            lo, hi = int_bounds(schema)
            return integer_regex(lo, hi)
        if kind == "number":
            return number_regex(
                *(bound(schema, k) for k in ("minimum", "maximum")),
                "exclusiveMinimum" in schema and not isinstance(schema["exclusiveMinimum"], bool),
                "exclusiveMaximum" in schema and not isinstance(schema["exclusiveMaximum"], bool),
            )
        if kind == "string":
            return self.string(schema, ptr)
        if kind == "array":
            return self.array(schema, ptr)
        if kind == "object":
            return self.object(schema, ptr)
        raise SchemaError(ptr, f"unknown type {kind!r}")

    def string(self, schema: dict, ptr: str) -> str:
        if "pattern" in schema:
            body = schema["pattern"]
            body = body[1:] if body.startswith("^") else body
            body = body[:-1] if body.endswith("$") and not body.endswith("\\$") else body
            return f'"(?:{body})"'
        fmt = schema.get("format")
        if fmt in FORMATS:
            return f'"{FORMATS[fmt]}"'
        lo = int(schema.get("minLength", 0))
        hi = schema.get("maxLength")
        if hi is not None and int(hi) < lo:
            raise SchemaError(ptr, f"maxLength {hi} is below minLength {lo}")
        count = "*" if lo == 0 and hi is None else f"{{{lo},{'' if hi is None else int(hi)}}}"
        return f'"{STRING_CHAR}{count}"'

    def array(self, schema: dict, ptr: str) -> str | None:
        """Element i follows `prefixItems[i]`, later ones `items`; the count is in
        [minItems, maxItems]. One alternative per count that ends inside the prefix, one for all
        counts past it."""
        prefix = [self.value(s, f"{ptr}/prefixItems/{i}") for i, s in enumerate(schema.get("prefixItems", []))]
        item = self.value(schema.get("items", True), f"{ptr}/items")
        lo = int(schema.get("minItems", 0))
        hi = None if schema.get("maxItems") is None else int(schema["maxItems"])
        bodies: list[str | None] = []
        for count in range(lo, len(prefix) + 1):
            if hi is not None and count > hi:
                break
            bodies.append(join(prefix[:count], self.comma))
        if item is not None and (hi is None or hi > len(prefix)):
            more_lo = max(lo - len(prefix), 1)
            more_hi = None if hi is None else hi - len(prefix) - 1
            items = f"{item}(?:{self.comma}{item}){{{more_lo - 1},{'' if more_hi is None else more_hi}}}"
            bodies.append(join([*prefix, items], self.comma))
        body = alt(bodies)
        return None if body is None else r"\[" + self.pad + body + self.pad + r"\]"

    def object(self, schema: dict, ptr: str) -> str | None:
        props = dict(schema.get("properties", {}))
        required = list(schema.get("required", []))
        extra = schema.get("additionalProperties", True)
        for name in required:
            if name not in props:
                if extra is False:
                    return None
                props[name] = extra
        open_, close = r"\{" + self.pad, self.pad + r"\}"
        if not props:
            value = self.value(extra, f"{ptr}/additionalProperties")
            if value is None:
                return open_ + close
            pair = f'"{STRING_CHAR}*"{self.colon}{value}'
            return open_ + f"(?:{pair}(?:{self.comma}{pair})*)?" + close
        members = []
        for name, sub in props.items():
            value = self.value(sub, f"{ptr}/properties/{name}")
            if value is None and name in required:
                return None
            if value is not None:
                members.append((self.literal(name) + self.colon + value, name in required))
        return open_ + (object_members(members, self.comma) or "") + close

    def ref(self, schema: dict, ptr: str) -> str | None:
        ref = schema["$ref"]
        depth = self.active_refs.count(ref)
        if depth and not self.options.recursion_depth:
            raise SchemaError(
                ptr,
                f"recursive reference {ref!r}: a regex cannot nest without bound; pass "
                "JsonOptions(recursion_depth=N) to unroll it N levels",
            )
        if depth > self.options.recursion_depth:
            return None
        target = resolve(self.root, ref, ptr)
        rest = {k: v for k, v in schema.items() if k != "$ref" and k not in ANNOTATIONS}
        if rest:
            raise SchemaError(ptr, f"$ref next to other keywords ({', '.join(sorted(rest))}) is not supported")
        self.active_refs.append(ref)
        try:
            return self.value(target, ref)
        finally:
            self.active_refs.pop()

    def alternatives(self, schema: dict, key: str, ptr: str) -> str | None:
        rest = {k for k in schema if k != key and k not in ANNOTATIONS}
        if rest:
            raise SchemaError(ptr, f"{key} next to other keywords ({', '.join(sorted(rest))}): move them into each branch")
        return alt([self.value(s, f"{ptr}/{key}/{i}") for i, s in enumerate(schema[key])])

    def all_of(self, schema: dict, ptr: str) -> str | None:
        parts = schema["allOf"]
        rest = {k: v for k, v in schema.items() if k != "allOf"}
        if len(parts) != 1 or any(k not in ANNOTATIONS for k in rest):
            raise SchemaError(ptr, "allOf is supported with exactly one schema and nothing beside it")
        return self.value(parts[0], f"{ptr}/allOf/0")

    def any_value(self, depth: int) -> str:
        scalars = [f'"{STRING_CHAR}*"', number_regex(None, None), "true", "false", "null"]
        if depth > 0:
            inner = self.any_value(depth - 1)
            scalars.append(r"\[" + self.pad + f"(?:{inner}(?:{self.comma}{inner})*)?" + self.pad + r"\]")
            pair = f'"{STRING_CHAR}*"{self.colon}{inner}'
            scalars.append(r"\{" + self.pad + f"(?:{pair}(?:{self.comma}{pair})*)?" + self.pad + r"\}")
        return "(?:" + "|".join(scalars) + ")"
