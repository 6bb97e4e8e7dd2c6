"""Ported from SGLang's
examples/frontend_language/usage/rag_using_parea/trace_and_evaluate_rag_using_parea.ipynb; only
`import lmc as sgl` changed: the notebook's `generation_sglang` cell (its second, fixed version with
max_tokens=1_000; the first differs only there), with `from sglang import` read as `from lmc
import`; the Chroma retrieval and Parea tracing cells left out (they need Chroma, Parea and their
API keys). Rows: {"question", "context"} (a list of passages, passed as *context); the notebook
reads state.stream_executor.variables["answer"]. Running it as written needs an OpenAI API key."""

import time

from lmc import assistant, function, gen, user


@function
def generation_sglang(s, question: str, *context: str):
    context = "\n".join(context)
    s += user(
        f"Given this question:\n{question}\n\nAnd this context:\n{context}\n\nAnswer the question."
    )
    s += assistant(gen("answer", max_tokens=1_000))


def generation(question: str, *context):
    state = generation_sglang.run(question, *context)
    while not state.stream_executor.is_finished:
        time.sleep(1)
    return state.stream_executor.variables["answer"]
