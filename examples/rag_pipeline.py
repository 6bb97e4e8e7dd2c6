"""Retrieval-augmented answering: summarize each retrieved passage in a branch, then answer.

Passages come from one shared pool, so the same passage text recurs across rows; each row's
branches share the question (hoisted as a fork prefix), and the final prompt's head is
prefetched while the summaries are generated. `summarize` is an ordinary program inlined into
each branch (defined after the main program: a call is resolved when compiling, not at import).
"""

import lmc


@lmc.program
def rag_pipeline(s, question: str, passages: list):
    s += lmc.system("You answer questions using only the notes you are given. Say 'unknown' if the notes do not help.")
    branches = s.fork(len(passages))
    for b, passage in zip(branches, passages):
        summarize(b, passage, question)
    s += lmc.user("Notes:\n" + "\n".join("- " + b["summary"] for b in branches) + f"\n\nQuestion: {question}")
    s += lmc.assistant(lmc.gen("answer", max_tokens=32, stop="\n"))


@lmc.program
def summarize(s, passage: str, question: str):
    s += lmc.user(f"Question: {question}\nPassage: {passage}\nIn one sentence, what does the passage say about the question?")
    s += lmc.assistant(lmc.gen("summary", max_tokens=24, stop="\n"))
