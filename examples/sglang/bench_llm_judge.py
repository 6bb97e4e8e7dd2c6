"""Ported from SGLang's benchmark/llm_judge/bench_sglang.py; only `import lmc as sgl` changed
(the six dimension prompts shortened). Rows: {"article"}."""

import lmc as sgl

system_prompt = "Please serve as an impartial judge and rigorously evaluate the quality of the following article."

dimension_prompts = [
    "Content: The substance should be well researched, accurate and relevant to the topic.",
    "Organization and Structure: An essay needs a clear introduction, body, and conclusion.",
    "Argument and Analysis: The argument should be logical, coherent and clearly articulated.",
    "Clarity and Precision: The essay should be written in a clear and concise manner.",
    "Grammar and Punctuation: Proper use of grammar and punctuation is vital.",
    "Referencing and Citation: An essay should cite every source it uses.",
]


@sgl.function
def multi_dimension_judge(s, article):
    s += system_prompt
    s += "\n```\n" + article + "\n```\n\n"

    forks = s.fork(len(dimension_prompts))
    for i in range(len(dimension_prompts)):
        forks[i] += (
            "USER: Please judge the quality based on the following metric. "
            + dimension_prompts[i]
            + " Please provide a single-paragraph judgement. "
            + "Focus on the provided metric and do not say other things. "
            'End your judgement paragraph with the word "END"\nJUDGE:'
        )
        forks[i] += sgl.gen("judgement", max_tokens=256, stop="END")
    forks.join()

    s += "I will judge the quality based on the following metrics.\n"
    for i in range(len(dimension_prompts)):
        s += (
            dimension_prompts[i].split(":")[0]
            + ": "
            + forks[i]["judgement"].strip()
            + "\n"
        )

    s += "In summary, on a scale of 1 to 10, I would give the article a score of"
    s += sgl.gen("score", max_tokens=2)
