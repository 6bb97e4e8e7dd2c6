"""Triton kernels for CUDA: paged attention (extend, split-KV decode), KV store, norm, rotary, MLP.

The package itself imports nothing; its modules import Triton, so importing one raises
ImportError where Triton is missing. `lmc.kernels.triton.ops` mirrors the reference ops of
`lmc.kernels.ops` signature for signature, for CUDA tensors.
"""
