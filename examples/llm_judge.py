"""An LLM judge (the example of LANGUAGE.md): one fork per rating dimension, then a verdict.

The grader's instructions are hoisted across rows; each row's question and answer are shared by
the three dimension branches; "Rate the" is shared by the branches' own text; the final
verdict's prompt is prefilled while the branches still generate (prefetch).
"""

import lmc


@lmc.program
def judge(s, question: str, answer: str):
    s += lmc.system("You are a strict grader.")
    s += lmc.user(f"Question: {question}\nAnswer: {answer}")
    dims = ["correctness", "clarity", "concision"]
    forks = s.fork(len(dims))
    for f, dim in zip(forks, dims):
        f += lmc.user(f"Rate the {dim} from 1 to 5, then explain.")
        f += lmc.assistant(lmc.gen("score", regex=r"[1-5]") + "\n" + lmc.gen("why", max_tokens=64, stop="\n"))
    s += lmc.user("Scores: " + ", ".join(f["score"] for f in forks) + ". Overall verdict?")
    s += lmc.assistant(lmc.select("verdict", choices=["accept", "reject"]))
