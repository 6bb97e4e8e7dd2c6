"""Structured extraction: a JSON object under a schema, then a regex-constrained field.

Both constraints are compiled at compile time (one shared entry per distinct pattern); the
instructions are the same for every row and become the hoisted prefix.
"""

import lmc

PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 24},
        "age": {"type": "integer", "minimum": 0, "maximum": 120},
        "city": {"type": "string", "maxLength": 20},
    },
    "required": ["name", "age", "city"],
    "additionalProperties": False,
}


@lmc.program
def json_extraction(s, text: str):
    s += lmc.system("You extract structured data from short texts and answer in exactly the requested format.")
    s += lmc.user(f"Text: {text}\nReturn the person described as JSON with keys name, age and city.")
    s += lmc.assistant(lmc.gen("person", json_schema=PERSON, max_tokens=48))
    s += lmc.user("What is their phone number? Answer as (XXX) XXX-XXXX.")
    s += lmc.assistant(lmc.gen("phone", regex=r"\(\d{3}\) \d{3}-\d{4}", max_tokens=16))
    s += lmc.user("Are they older than 30? Answer True or False.")
    s += lmc.assistant(lmc.gen("over_30", dtype=bool))
