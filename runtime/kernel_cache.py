"""Triton's compiled kernels kept under lmc's cache root, so a later process starts warm.

The first CUDA engine of a machine compiles the Triton kernels of its attention backend and
fused ops (seconds); Triton caches them by source and GPU. By default it caches in
`~/.triton/cache`; lmc points it at `$LMC_HOME/triton` instead, beside the models and the GGUF
caches, so one directory (on a persistent disk, in a container) keeps everything a warm start
needs. A TRITON_CACHE_DIR the user set is left alone.
"""

from __future__ import annotations

import os
from pathlib import Path

from lmc.runtime.models.tiny import lmc_home


def use_lmc_kernel_cache() -> Path:
    """Set TRITON_CACHE_DIR (read by Triton at each compile) unless set; return the directory used."""
    return Path(os.environ.setdefault("TRITON_CACHE_DIR", str(lmc_home() / "triton")))
