"""The plan executor: rows of a plan as coroutines over the engine, results streamed in order."""
