"""Running past one engine or one device.

- `placement.place(plan, jobs, workers, tokenize, roles, policy)`: which worker runs which row.
- `data_parallel.DataParallel(config, workers)`: the worker processes, used where `run_file`
  takes an engine (`lmc run --data-parallel N`).
- `tensor_parallel.TensorParallel`: one engine over N rank processes, each holding a shard of
  every layer (`tp_shard.py`), the scheduler on rank 0 (`EngineConfig.tensor_parallel`,
  `--tensor-parallel N`).
"""
