"""Ported from SGLang's examples/frontend_language/usage/parallel_sample.py; only `import lmc as sgl`
changed (the stored revision's stray docstring between the decorator and the def, a SyntaxError,
left out; the module-level driver moved under `__main__`). Rows: {"question", "n"}; the script reads
state["reasoning"][i], state["tool"][i] and state["answer"][i] (lists, one entry per fork). Running
it as written needs an OpenAI API key (OPENAI_API_KEY)."""

import lmc as sgl


@sgl.function
def parallel_sample(s, question, n):
    s += (
        "Question: Compute 1 + 2 + 3\n"
        "Reasoning: I need to use a calculator.\n"
        "Tool: calculator\n"
        "Answer: 6\n"
        "Question: Compute 3 + 2 + 2\n"
        "Reasoning: I will try a calculator.\n"
        "Tool: calculator\n"
        "Answer: 7\n"
    )
    s += "Question: " + question + "\n"
    forks = s.fork(n)
    forks += "Reasoning:" + sgl.gen("reasoning", stop="\n") + "\n"
    forks += "Tool:" + sgl.gen("tool", choices=["calculator", "browser"]) + "\n"
    forks += "Answer:" + sgl.gen("answer", stop="\n") + "\n"
    forks.join()


if __name__ == "__main__":
    sgl.set_default_backend(sgl.OpenAI("gpt-3.5-turbo-instruct"))
    # sgl.set_default_backend(sgl.RuntimeEndpoint("http://localhost:30000"))

    state = parallel_sample.run(question="Compute 5 + 2 + 4.", n=5, temperature=1.0)

    for i in range(5):
        obj = {
            "reasoning": state["reasoning"][i],
            "tool": state["tool"][i],
            "answer": state["answer"][i],
        }
        print(f"[{i}], {obj}")
