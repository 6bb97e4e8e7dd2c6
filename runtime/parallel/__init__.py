"""Running past one engine: data-parallel workers over rows placed ahead of time by the plan.

- `placement.place(plan, jobs, workers, tokenize, roles, policy)`: which worker runs which row.
- `data_parallel.DataParallel(config, workers)`: the worker processes, used where `run_file`
  takes an engine (`lmc run --data-parallel N`).
"""
