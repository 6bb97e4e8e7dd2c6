"""Multi-turn chat: each row is a conversation of user turns answered one after another.

The system prompt is shared by all rows; within a row every turn's prompt extends the previous
one, so the radix cache reuses the whole conversation so far (the loop over turns is resolved
per row, since the number of turns is an input).
"""

import lmc

SYSTEM = ("You are a friendly assistant for a bicycle shop. Keep answers short and practical, "
          "and ask a follow-up question when the customer's need is unclear.")


@lmc.program
def multi_turn_chat(s, turns: list):
    s += lmc.system(SYSTEM)
    for i, turn in enumerate(turns):
        s += lmc.user(turn)
        s += lmc.assistant(lmc.gen(f"reply_{i}", max_tokens=24))
