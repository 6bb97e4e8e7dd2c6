"""Ported from SGLang's examples/frontend_language/usage/triton/models/character_generation/1/model.py;
only `import lmc as sgl` changed (SGLang's `build_regex_from_object` imported from lmc's grammars;
the Triton Python-backend glue, `TritonPythonModel` and its `triton_python_backend_utils` import,
left out: it runs only inside a Triton server, and its `execute` calls `character_gen.run_batch` on
the names it receives). Rows: {"name"}; the server returns state.text(). Running it as written needs
a Triton Inference Server in front of an SGLang server at localhost:30000."""

from pydantic import BaseModel

import lmc as sgl
from lmc import function
from lmc.grammars import build_regex_from_object


class Character(BaseModel):
    name: str
    eye_color: str
    house: str


@function
def character_gen(s, name):
    s += (
        name
        + " is a character in Harry Potter. Please fill in the following information about this character.\n"
    )
    s += sgl.gen(
        "json_output", max_tokens=256, regex=build_regex_from_object(Character)
    )

