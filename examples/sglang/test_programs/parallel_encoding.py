"""Ported from sglang/test/test_programs.py (test_parallel_encoding), sglang 0.5.23 wheel; only `import lmc as sgl` changed
(the programs, nested in the test function there, are lifted to module level with the values they close over)."""

import lmc as sgl

max_tokens = 64


@sgl.function
def parallel_encoding(s, question, context_0, context_1, context_2):
    s += "USER: I will ask a question based on some statements.\n"
    s += "ASSISTANT: Sure. I will give the answer.\n"
    s += "USER: Please memorize these statements.\n"

    contexts = [context_0, context_1, context_2]

    forks = s.fork(len(contexts))
    forks += lambda i: f"Statement {i}: " + contexts[i] + "\n"
    forks.join(mode="concate_and_append")

    s += "Now, please answer the following question. Do not list options."
    s += "\nQuestion: " + question + "\n"
    s += "ASSISTANT:" + sgl.gen("answer", max_tokens=max_tokens)
