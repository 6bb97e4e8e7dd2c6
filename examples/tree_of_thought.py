"""Tree of thought: nested forks. Three approaches, each judged twice, all sharing the question.

The question's prompt is computed once per row and shared by every branch; each approach's
text is shared by its two evaluations (nested forks of one family form one request group).
"""

import lmc


@lmc.program
def tree_of_thought(s, question: str):
    s += lmc.system("You solve problems by exploring several approaches before answering.")
    s += lmc.user(question)
    s += lmc.assistant("Let me consider a few different approaches.")
    approaches = s.fork(3)
    for i, a in enumerate(approaches):
        a += f"\nApproach {i + 1}:" + lmc.gen("approach", max_tokens=24, stop="\n")
        checks = a.fork(2)
        for c in checks:
            c += "\nIs this approach correct and complete? Answer yes or no:"
            c += lmc.gen("check", choices=[" yes", " no"])
    s += "\nAfter weighing the approaches, the answer is:" + lmc.gen("answer", max_tokens=16, stop="\n")
