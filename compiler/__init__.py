"""The lmc compiler: Python LM programs to an optimized dataflow graph and a plan.json."""
