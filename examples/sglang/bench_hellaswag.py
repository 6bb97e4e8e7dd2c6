"""Ported from SGLang's benchmark/hellaswag/bench_sglang.py; only `import lmc as sgl` changed.
`few_shot_examples` is built at module level there from the data file; here it is a constant of
the same shape. Rows: {"question", "choices"}; the script reads `choices.index(s["answer"])`."""

import lmc as sgl

few_shot_examples = (
    "Baking cookies: A woman mixes flour and sugar in a bowl. She then adds eggs and stirs the dough.\n\n"
    "Riding a bike: A boy pushes his bike to the top of the hill. He rides down the hill quickly.\n\n"
)


@sgl.function
def few_shot_hellaswag(s, question, choices):
    s += few_shot_examples + question
    s += sgl.select("answer", choices=choices)
