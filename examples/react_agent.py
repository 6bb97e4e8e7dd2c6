"""A ReAct-style agent loop: think, pick an action, observe, until the model picks `finish`.

Whether the loop goes on depends on a generated value, so the loop is a dynamic region: the
executor expands one step at a time once the action is known. The tool description is shared by
every row.
"""

import lmc

TOOLS = """You answer questions by reasoning step by step and using tools.
Tools:
- search[query]: look the query up in an encyclopedia and return the first sentence.
- lookup[term]: find the next sentence mentioning the term on the current page.
- finish[answer]: return the final answer.
Use the format: Thought, Action, Observation, repeated; end with finish.

"""


@lmc.program
def react_agent(s, question: str, max_steps: int = 3):
    s += TOOLS + f"Question: {question}\n"
    for step in range(1, max_steps + 1):
        s += f"Thought {step}:" + lmc.gen(f"thought_{step}", max_tokens=24, stop="\n") + "\n"
        s += f"Action {step}:" + lmc.select(f"action_{step}", choices=[" search", " lookup", " finish"])
        if s[f"action_{step}"] == " finish":
            s += "[" + lmc.gen("answer", max_tokens=16, stop="]") + "]\n"
            break
        s += "[" + lmc.gen(f"argument_{step}", max_tokens=12, stop="]") + "]\n"
        s += f"Observation {step}:" + lmc.gen(f"observation_{step}", max_tokens=24, stop="\n") + "\n"
