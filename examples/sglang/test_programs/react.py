"""Ported from sglang/test/test_programs.py (test_react), sglang 0.5.23 wheel; only `import lmc as sgl` changed
(the programs, nested in the test function there, are lifted to module level with the values they close over)."""

import lmc as sgl


@sgl.function
def react(s, question):
    s += """
Question: Which country does the founder of Microsoft live in?
Thought 1: I need to search for the founder of Microsoft.
Action 1: Search [Founder of Microsoft].
Observation 1: The founder of Microsoft is Bill Gates.
Thought 2: I need to search for the country where Bill Gates lives in.
Action 2: Search [Where does Bill Gates live].
Observation 2: Bill Gates lives in the United States.
Thought 3: The answer is the United States.
Action 3: Finish [United States].\n
"""

    s += "Question: " + question + "\n"

    for i in range(1, 5):
        s += f"Thought {i}:" + sgl.gen(stop=[".", "\n"]) + ".\n"
        s += f"Action {i}: " + sgl.select(f"action_{i}", ["Search", "Finish"])

        if s[f"action_{i}"] == "Search":
            s += " [" + sgl.gen(stop="]") + "].\n"
            s += f"Observation {i}:" + sgl.gen(stop=[".", "\n"]) + ".\n"
        else:
            s += " [" + sgl.gen("answer", stop="]") + "].\n"
            break
