"""Ported from SGLang's test/lang/test_bind_cache.py (test_bind); only `import lmc as sgl` changed (the
program, nested in the test method there, lifted to module level; the test's own calls moved under
`__main__`; the `bind` stays at module level: it defines the bound program). Rows: {"question"} for
the bound `few_shot_qa_2` ({"prompt", "question"} for `few_shot_qa`); the test reads nothing."""

import lmc as sgl


@sgl.function
def few_shot_qa(s, prompt, question):
    s += prompt
    s += "Q: What is the capital of France?\n"
    s += "A: Paris\n"
    s += "Q: " + question + "\n"
    s += "A:" + sgl.gen("answer", stop="\n")


few_shot_qa_2 = few_shot_qa.bind(
    prompt="The following are questions with answers.\n\n"
)


if __name__ == "__main__":
    tracer = few_shot_qa_2.trace()
    print(tracer.last_node.print_graph_dfs() + "\n")
