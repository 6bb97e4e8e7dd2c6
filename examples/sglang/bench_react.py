"""Ported from SGLang's benchmark/react/bench_sglang.py; only `import lmc as sgl` changed (the
few-shot instructions shortened to one example). Rows: {"question", "triplets": [{"thought",
"action", "observation"}, ...]}; a replay of a given trace, as in SGLang's benchmark."""

import lmc as sgl


@sgl.function
def webthink(s, question, triplets):
    s += (
        """Solve a question answering task with interleaving Thought, Action, Observation steps.
Question: Which magazine was started first Arthur's Magazine or First for Women?
Thought 1: I need to search Arthur's Magazine and First for Women, and find which was started first.
Action 1: Search[Arthur's Magazine]
Observation 1: Arthur's Magazine (1844-1846) was an American literary periodical.
Thought 2: Arthur's Magazine was started in 1844. First for Women was started in 1989.
Action 2: Finish[Arthur's Magazine]
""" + question)
    for i in range(1, len(triplets) + 2):
        s += "Thought " + str(i) + ":"
        ss = s.fork(1)
        ss[0] += sgl.gen(name="thought_action", max_tokens=200, stop="Observation")
        ss.join()
        if i > len(triplets):
            break
        s += (triplets[i - 1]["thought"] + "\nAction " + str(i) + ":" +
              triplets[i - 1]["action"] + "\nObservation " + str(i) + ":" +
              triplets[i - 1]["observation"] + "\n")
