"""Ported from sglang/test/test_programs.py (test_decode_json), sglang 0.5.23 wheel; only `import lmc as sgl` changed
(the programs, nested in the test function there, are lifted to module level with the values they close over)."""

import lmc as sgl


@sgl.function
def decode_json(s):
    s += "Generate a JSON object to describe the basic city information of Paris.\n"

    with s.var_scope("json_output"):
        s += "{\n"
        s += '  "name": ' + sgl.gen_string() + ",\n"
        s += '  "population": ' + sgl.gen_int() + ",\n"
        s += '  "area": ' + sgl.gen(dtype=int) + ",\n"
        s += '  "country": ' + sgl.gen_string() + ",\n"
        s += '  "timezone": ' + sgl.gen(dtype=str) + "\n"
        s += "}"
