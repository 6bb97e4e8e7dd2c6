"""Continuation choice (the HellaSwag shape): pick the most likely ending of a short story.

A few solved examples are shared by every row (hoisted); each row brings a context and four
candidate endings of its own, scored in one batched pass over the shared prompt.
"""

import lmc

SOLVED = [
    ("A man is standing on a ladder next to a house. He", "climbs up and starts cleaning leaves out of the gutter."),
    ("A woman pours flour into a large bowl. She", "cracks two eggs into the flour and begins to stir."),
    ("Two children put on helmets in a driveway. They", "get on their bikes and ride slowly down the street."),
]


@lmc.program
def hellaswag(s, context: str, endings: list):
    s += "Complete each description with the most sensible ending.\n\n"
    for start, end in SOLVED:
        s += f"{start} {end}\n\n"
    s += context
    s += lmc.select("ending", choices=[" " + e for e in endings])
