"""Ported from sglang/test/test_programs.py (test_decode_json_regex), sglang 0.5.23 wheel; only `import lmc as sgl` changed,
and `sglang` to `lmc` in the import inside the body (lmc.lang.ir holds SGLang's regex constants under SGLang's path, and
a program may import lmc's constants inside its body; the programs, nested in the test function there, are lifted to
module level with the values they close over)."""

import lmc as sgl


@sgl.function
def decode_json(s):
    from lmc.lang.ir import REGEX_FLOAT, REGEX_INT, REGEX_STR

    s += "Generate a JSON object to describe the basic city information of Paris.\n"
    s += "Here are the JSON object:\n"

    # NOTE: we recommend using dtype gen or whole regex string to control the output

    with s.var_scope("json_output"):
        s += "{\n"
        s += '  "name": ' + sgl.gen(regex=REGEX_STR) + ",\n"
        s += '  "population": ' + sgl.gen(regex=REGEX_INT, stop=[" ", "\n"]) + ",\n"
        s += '  "area": ' + sgl.gen(regex=REGEX_INT, stop=[" ", "\n"]) + ",\n"
        s += '  "latitude": ' + sgl.gen(regex=REGEX_FLOAT, stop=[" ", "\n"]) + "\n"
        s += "}"
