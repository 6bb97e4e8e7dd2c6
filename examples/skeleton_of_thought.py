"""Skeleton of thought: write a three-point outline, then expand every point in parallel.

The outline is generated once; each branch shares the whole conversation so far and expands
one point (the branch text up to the point's own words is a shared fork prefix).
"""

import lmc


@lmc.program
def skeleton_of_thought(s, question: str):
    s += lmc.system("You answer questions clearly and concisely.")
    s += lmc.user(f"Give a skeleton of 3 short points (a few words each) for answering: {question}")
    s += lmc.assistant(
        "1." + lmc.gen("point_1", max_tokens=12, stop="\n")
        + "\n2." + lmc.gen("point_2", max_tokens=12, stop="\n")
        + "\n3." + lmc.gen("point_3", max_tokens=12, stop="\n")
    )
    branches = s.fork(3)
    for k, b in enumerate(branches, start=1):
        b += lmc.user(f"Expand point {k} (" + s[f"point_{k}"] + ") into two sentences.")
        b += lmc.assistant(lmc.gen("expansion", max_tokens=40))
    return {
        "points": [s["point_1"], s["point_2"], s["point_3"]],
        "answer": "\n".join(b["expansion"] for b in branches),
    }
