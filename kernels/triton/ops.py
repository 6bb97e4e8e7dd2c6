"""The Triton versions of `lmc.kernels.ops`, same signatures and same rounding, for CUDA tensors."""

from lmc.kernels.triton.activation import silu_and_mul
from lmc.kernels.triton.rms_norm import rms_norm
from lmc.kernels.triton.rotary import apply_rotary

__all__ = ["apply_rotary", "rms_norm", "silu_and_mul"]
