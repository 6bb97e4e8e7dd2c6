"""Ported from SGLang's benchmark/tree_of_thought_deep/bench_sglang.py; only `import lmc as sgl`
changed. Rows: {"question", "num_branches"}; the script reads `s.ret_value`, a list of lists of
branch texts."""

import lmc as sgl

temp = 0.001


def propose_plan(s, question, num_branches):
    s += sgl.user(
        """Please generate a high-level plan for solving the following question. As the first step, just say what method and idea you will use to solve the question. Question: """
        + question
    )
    forks = s.fork(num_branches)
    forks += sgl.assistant(sgl.gen("plan", max_tokens=256, temperature=temp))
    return forks


def execute_plan(s, num_branches):
    s += sgl.user(
        """The plan looks good! Now, use real numbers and do the calculation. Give me the final answer."""
    )
    forks = s.fork(num_branches)
    forks += sgl.assistant(sgl.gen("answer", max_tokens=256, temperature=temp))
    return forks


def reflect_solution(s, num_branches):
    s += sgl.user(
        """Okay. Now, evaluate your own solution and give it a score on a scale of 1 to 5."""
    )
    forks = s.fork(num_branches)
    forks += sgl.assistant(sgl.gen("score", max_tokens=256, temperature=temp))
    return forks


def get_final_answer(s, num_branches):
    s += sgl.user(
        """Based on your reflection, do you change your mind? Now, give me the final answer."""
    )
    forks = s.fork(num_branches)
    forks += sgl.assistant(sgl.gen("final_answer", max_tokens=256, temperature=temp))
    return forks


@sgl.function
def tree_search(s, question, num_branches):
    plan_forks = propose_plan(s, question, num_branches)

    sol_states = []
    for plan in plan_forks:
        forks = execute_plan(plan, num_branches)
        sol_states.extend(forks)

    ref_states = []
    for sol in sol_states:
        forks = reflect_solution(sol, num_branches)
        ref_states.extend(forks)

    solutions = []
    for sol in ref_states:
        forks = get_final_answer(sol, num_branches)
        solutions.append(forks)
    solutions = [[s.text() for s in forks] for forks in solutions]

    return solutions
