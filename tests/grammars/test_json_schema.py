"""JSON schema constraints: random schemas, random token walks, checked by `json` and `jsonschema`."""

from __future__ import annotations

import json
import random
import re

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lmc.grammars import JsonOptions, SchemaError, compile_constraint, json_schema_to_regex
from lmc.grammars.json_numbers import integer_regex, number_regex

EOS = 2
KEYS = ["id", "name", "tags", "a", "é", "score", "kind"]


def _leaf() -> st.SearchStrategy[dict]:
    small = st.integers(0, 6)
    bound = st.one_of(st.none(), st.integers(-50, 50))
    return st.one_of(
        st.builds(lambda lo, extra: {"type": "string", "minLength": lo, "maxLength": lo + extra}, small, small),
        st.just({"type": "string", "maxLength": 4}),
        st.sampled_from([{"type": "string", "format": f} for f in ("date", "uuid", "email", "ipv4", "date-time")]),
        st.just({"type": "string", "pattern": "^[a-z]{1,5}$"}),
        st.builds(lambda lo, hi: {"type": "integer", **({"minimum": lo} if lo is not None else {}), **({"maximum": hi} if hi is not None else {})}, bound, bound)
        .filter(lambda s: s.get("minimum", -100) <= s.get("maximum", 100)),  # min > max: nothing to walk
        st.builds(lambda lo: {"type": "integer", "exclusiveMinimum": lo, "exclusiveMaximum": lo + 30}, st.integers(-40, 40)),
        st.builds(lambda lo, span: {"type": "number", "minimum": lo, "maximum": lo + span}, st.integers(-20, 20), st.integers(0, 10)),
        st.just({"type": "number"}),
        st.just({"type": "boolean"}),
        st.just({"type": "null"}),
        st.just({"enum": ["red", "green", 3, None, True, "with \"quote\"", [1, 2], {"k": "v"}]}),
        st.just({"const": {"fixed": [1, "x"]}}),
        st.just({"type": ["string", "null"], "maxLength": 3}),
    )


def _extend(children: st.SearchStrategy[dict]) -> st.SearchStrategy[dict]:
    def obj(props: list[tuple[str, dict]], required_mask: list[bool]) -> dict:
        names = dict(props)
        req = [k for k, r in zip(names, required_mask) if r]
        return {"type": "object", "properties": names, "required": req, "additionalProperties": False}

    return st.one_of(
        st.builds(obj, st.lists(st.tuples(st.sampled_from(KEYS), children), min_size=1, max_size=4, unique_by=lambda t: t[0]), st.lists(st.booleans(), min_size=4, max_size=4)),
        st.builds(lambda item, lo, extra: {"type": "array", "items": item, "minItems": lo, "maxItems": lo + extra}, children, st.integers(0, 2), st.integers(0, 3)),
        st.builds(lambda a, b: {"anyOf": [a, b]}, children, children),
    )


schemas = st.recursive(_leaf(), _extend, max_leaves=6)
WHITESPACE = st.sampled_from(["compact", "spaced", 1])


@settings(max_examples=30, deadline=None)
@given(schema=schemas, whitespace=WHITESPACE, seed=st.integers(0, 2**32))
def test_random_walks_validate(token_bytes, walk, schema: dict, whitespace, seed: int) -> None:
    c = compile_constraint(json_schema=schema, token_bytes=token_bytes, eos_token_id=EOS, vocab_size=32000, json_options=JsonOptions(whitespace=whitespace))
    rng = random.Random(seed)
    for _ in range(4):
        out = walk(c, token_bytes, EOS, rng, max_steps=400)
        if out is None:
            continue
        text = out.decode("utf-8")
        jsonschema.validate(json.loads(text), schema, format_checker=jsonschema.FormatChecker())
        if whitespace == "compact":
            assert not re.search(r'[\s]', re.sub(r'"(?:[^"\\]|\\.)*"', '""', text))


@settings(max_examples=200, deadline=None)
@given(lo=st.one_of(st.none(), st.integers(-10**6, 10**6)), hi=st.one_of(st.none(), st.integers(-10**6, 10**6)), xs=st.lists(st.integers(-2 * 10**6, 2 * 10**6), max_size=30))
def test_integer_ranges_are_exact(lo, hi, xs) -> None:
    pattern = integer_regex(lo, hi)
    probes = xs + [v for v in (lo, hi) if v is not None for v in (v - 1, v, v + 1)] + [0]
    for x in probes:
        inside = (lo is None or x >= lo) and (hi is None or x <= hi)
        assert (pattern is not None and re.fullmatch(pattern, str(x)) is not None) == inside, (lo, hi, x)


@settings(max_examples=200, deadline=None)
@given(
    lo=st.one_of(st.none(), st.integers(-300, 300)),
    hi=st.one_of(st.none(), st.integers(-300, 300)),
    ex_lo=st.booleans(),
    ex_hi=st.booleans(),
    xs=st.lists(st.decimals(-400, 400, places=2, allow_nan=False, allow_infinity=False), max_size=30),
)
def test_number_ranges_are_exact_for_whole_bounds(lo, hi, ex_lo, ex_hi, xs) -> None:
    pattern = number_regex(lo, hi, ex_lo, ex_hi)
    for x in xs:
        text = format(x, "f")
        if text.startswith("-") and x == 0:
            continue  # "-0.00": never generated, value 0 is covered by "0.00"
        inside = (lo is None or (x > lo if ex_lo else x >= lo)) and (hi is None or (x < hi if ex_hi else x <= hi))
        assert (pattern is not None and re.fullmatch(pattern, text) is not None) == inside, (lo, hi, ex_lo, ex_hi, text)


def test_refs_and_defs(token_bytes, walk) -> None:
    schema = {
        "$defs": {"point": {"type": "object", "properties": {"x": {"type": "integer"}, "y": {"type": "integer"}}, "required": ["x", "y"]}},
        "type": "object",
        "properties": {"a": {"$ref": "#/$defs/point"}, "b": {"type": "array", "items": {"$ref": "#/$defs/point"}, "maxItems": 2}},
        "required": ["a", "b"],
    }
    c = compile_constraint(json_schema=schema, token_bytes=token_bytes, eos_token_id=EOS, vocab_size=32000)
    assert c.forced_run(0) == '{"a":{"x":'
    rng = random.Random(1)
    for _ in range(5):
        out = walk(c, token_bytes, EOS, rng)
        if out is not None:
            jsonschema.validate(json.loads(out), schema)


def test_recursive_refs_error_or_unroll(token_bytes, walk) -> None:
    tree = {
        "$defs": {"node": {"type": "object", "properties": {"v": {"type": "integer"}, "kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}}, "required": ["v"]}},
        "$ref": "#/$defs/node",
    }
    with pytest.raises(SchemaError, match="recursion_depth"):
        json_schema_to_regex(tree)
    pattern = json_schema_to_regex(tree, JsonOptions(recursion_depth=2))
    assert re.fullmatch(pattern, '{"v":1,"kids":[{"v":2,"kids":[{"v":3}]}]}')
    assert not re.fullmatch(pattern, '{"v":1,"kids":[{"v":2,"kids":[{"v":3,"kids":[{"v":4}]}]}]}')


def test_whitespace_policies() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "array", "items": {"type": "boolean"}}}, "required": ["a", "b"]}
    doc = {"a": 1, "b": [True, False]}
    compact = json_schema_to_regex(schema)
    spaced = json_schema_to_regex(schema, JsonOptions(whitespace="spaced"))
    loose = json_schema_to_regex(schema, JsonOptions(whitespace=2))
    assert re.fullmatch(compact, json.dumps(doc, separators=(",", ":")))
    assert not re.fullmatch(compact, json.dumps(doc))
    assert re.fullmatch(spaced, json.dumps(doc))
    assert re.fullmatch(loose, '{ "a" : 1,\n "b": [ true , false ] }')
    assert not re.fullmatch(loose, '{   "a":1,"b":[true,false]}')


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"type": "integer", "multipleOf": 3}, "multipleOf"),
        ({"type": "array", "uniqueItems": True}, "uniqueItems"),
        ({"$ref": "#/$defs/missing"}, "does not resolve"),
        ({"$ref": "http://example.com/s.json"}, "local references"),
        ({"type": "object", "properties": {"a": {"not": {"type": "null"}}}}, "#/properties/a"),
        ({"type": "string", "maxLength": 1, "minLength": 3}, "maxLength"),
        (False, "no JSON value"),
    ],
)
def test_schema_errors_name_the_place(schema, message: str) -> None:
    with pytest.raises(SchemaError, match=re.escape(message)):
        json_schema_to_regex(schema)


@settings(max_examples=150, deadline=None)
@given(values=st.lists(st.one_of(st.text(max_size=6), st.integers(-5, 5), st.none()), min_size=1, max_size=4))
def test_enum_matches_exactly_its_values_as_json_writes_them(values: list) -> None:
    """String values take a shortcut past json.dumps: checked against it, escapes included."""
    pattern = json_schema_to_regex({"enum": values})
    for v in values:
        assert re.fullmatch(pattern, json.dumps(v, ensure_ascii=False), re.ASCII), (pattern, v)
    for v in values:
        if isinstance(v, str):
            assert not re.fullmatch(pattern, json.dumps(v + "\x00", ensure_ascii=False)) or v + "\x00" in values


def test_build_regex_from_object_takes_a_pydantic_class_a_dict_or_json_text() -> None:
    """SGLang's helper: the three spellings give one regex, whose matches the model validates."""
    import enum

    import pydantic

    from lmc.grammars import build_regex_from_object

    class Weapon(str, enum.Enum):
        sword = "sword"
        bow = "bow"

    class Wizard(pydantic.BaseModel):
        name: str
        age: int
        weapon: Weapon

    regex = build_regex_from_object(Wizard)
    schema = Wizard.model_json_schema()
    assert regex == build_regex_from_object(schema) == build_regex_from_object(json.dumps(schema))
    good = Wizard(name="Merlin", age=312, weapon=Weapon.bow).model_dump_json()
    assert re.fullmatch(regex, good) and Wizard.model_validate_json(good)
    assert not re.fullmatch(regex, good.replace('"bow"', '"axe"'))
    with pytest.raises(SchemaError, match="whitespace_pattern"):
        build_regex_from_object(Wizard, whitespace_pattern=r"[ ]?")
