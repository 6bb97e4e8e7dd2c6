"""Ported from SGLang's benchmark/mmlu/bench_sglang.py (the non-gpt backend's program); only
`import lmc as sgl` changed. Rows: {"examples", "question"}; SGLang's script reads
`s["answer"].strip()[0]` after `run_batch(..., temperature=0, max_new_tokens=1)`."""

import lmc as sgl


@sgl.function
def few_shot_mmlu(s, examples, question):
    s += examples + question + sgl.gen("answer")
