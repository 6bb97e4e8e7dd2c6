"""Ported from sglang/test/test_programs.py (test_parallel_decoding), sglang 0.5.23 wheel; only `import lmc as sgl` changed
(the programs, nested in the test function there, are lifted to module level with the values they close over)."""

import lmc as sgl

max_tokens = 64
fork_size = 5


@sgl.function
def parallel_decoding(s, topic):
    s += "Act as a helpful assistant.\n"
    s += "USER: Give some tips for " + topic + ".\n"
    s += (
        "ASSISTANT: Okay. Here are "
        + str(fork_size)
        + " concise tips, each under 8 words:\n"
    )

    # Generate skeleton
    for i in range(1, 1 + fork_size):
        s += f"{i}." + sgl.gen(max_tokens=16, stop=[".", "\n"]) + ".\n"

    # Generate detailed tips
    forks = s.fork(fork_size)
    for i in range(fork_size):
        forks[i] += (
            f"Now, I expand tip {i + 1} into a detailed paragraph:\nTip {i + 1}:"
        )
        forks[i] += sgl.gen("detailed_tip", max_tokens, stop=["\n\n"])
    forks.join()

    # Concatenate tips and summarize
    s += "Here are these tips with detailed explanation:\n"
    for i in range(fork_size):
        s += f"Tip {i + 1}:" + forks[i]["detailed_tip"] + "\n"

    s += "\nIn summary," + sgl.gen("summary", max_tokens=512)
