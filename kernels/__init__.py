"""Compute kernels: pure functions over tensors, one interface per op, several backends."""
