"""The heap that exists before a run (the model, the tokenizer, every imported module) kept out
of the cyclic garbage collector's passes while the run goes on.

A run allocates many long-lived objects (each row's ops and coroutines), which makes Python run
full collections, and a full collection walks every tracked object of the process: with a model
loaded, one took 0.3-0.4 s on the 2-core box, as much as the executor's own work for 512 few-shot
rows. Frozen objects are still freed by reference counting; only cycles among them wait until
the run ends, when they are handed back to the collector.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def frozen_heap() -> Iterator[None]:
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
