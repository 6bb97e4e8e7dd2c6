"""Kernel timings at Llama-3-8B attention shapes, each set against its bytes or FLOP floor.

The floors come from ceilings measured in the same run (a device-to-device copy and a large bf16
matmul), so every row says how far the kernel is from what the card can do:
`floor_frac` = floor time / measured time (1.0 would be at the ceiling).

    python -m lmc.benchmarks.kernels --out benchmarks/results
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from triton.testing import do_bench

from lmc.benchmarks.report import write_report
from lmc.kernels.attention import AttentionMetadata
from lmc.kernels.attention.triton_backend import TritonAttention
from lmc.kernels.triton import ops as fast
from lmc.kernels.triton.decode_attention import choose_num_splits, decode_attention
from lmc.kernels.triton.extend_attention import extend_attention
from lmc.kernels.triton.plan import plan_attention

Q_HEADS, KV_HEADS, HEAD_DIM, HIDDEN, INTER = 32, 8, 128, 4096, 14336
DTYPE = torch.bfloat16


def median_ms(fn: Callable[[], Any]) -> float:
    return do_bench(fn, warmup=25, rep=200, return_mode="median")


def ceilings() -> dict[str, float]:
    """Copy bandwidth (bytes read + written) and bf16 matmul rate, measured on random data."""
    src = torch.randn(2**29, device="cuda", dtype=DTYPE)  # 1 GiB
    dst = torch.empty_like(src)
    copy_ms = median_ms(lambda: dst.copy_(src))
    a, b = (torch.randn(8192, 8192, device="cuda", dtype=DTYPE) for _ in range(2))
    mm_ms = median_ms(lambda: a @ b)
    return {
        "copy_GBps": 2 * src.numel() * 2 / copy_ms / 1e6,
        "matmul_TFLOPs": 2 * 8192**3 / mm_ms / 1e9,
    }


def metadata(
    prefix_lens: list[int], ext_lens: list[int], page_size: int, gen: torch.Generator
) -> tuple[AttentionMetadata, int]:
    """Sequences on shuffled pages of `page_size` consecutive positions; returns (meta, slots)."""
    seq_lens = [p + e for p, e in zip(prefix_lens, ext_lens)]
    pages = [-(-n // page_size) for n in seq_lens]
    perm = torch.randperm(sum(pages), generator=gen)
    slots, first = [], 0
    for n, count in zip(seq_lens, pages):
        own = perm[first : first + count]
        first += count
        slots.append(own.repeat_interleave(page_size)[:n] * page_size + torch.arange(n) % page_size)

    def indptr(lens: list[int]) -> torch.Tensor:
        return torch.tensor([0, *torch.tensor(lens).cumsum(0).tolist()], dtype=torch.int32).cuda()

    meta = AttentionMetadata(
        qo_indptr=indptr(ext_lens),
        kv_indptr=indptr(seq_lens),
        kv_indices=torch.cat(slots).cuda(),
        out_slots=torch.cat([s[p:] for s, p in zip(slots, prefix_lens)]).cuda(),
        seq_lens=torch.tensor(seq_lens, dtype=torch.int32).cuda(),
        extend_lens=torch.tensor(ext_lens, dtype=torch.int32).cuda(),
        seq_lens_cpu=seq_lens,
        extend_lens_cpu=ext_lens,
        page_size=page_size,
    )
    return meta, perm.numel() * page_size


def attention_inputs(meta: AttentionMetadata, num_slots: int) -> dict[str, torch.Tensor]:
    tokens = sum(meta.extend_lens_cpu)

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, device="cuda", dtype=DTYPE)

    return {
        "q": rand(tokens, Q_HEADS, HEAD_DIM),
        "k": rand(tokens, KV_HEADS, HEAD_DIM),
        "v": rand(tokens, KV_HEADS, HEAD_DIM),
        "k_cache": rand(num_slots, KV_HEADS, HEAD_DIM),
        "v_cache": rand(num_slots, KV_HEADS, HEAD_DIM),
    }


def row(name: str, shape: str, ms: float, floor_ms: float, rate: str) -> dict[str, Any]:
    return {
        "kernel": name,
        "shape": shape,
        "time_us": ms * 1e3,
        "floor_us": floor_ms * 1e3,
        "floor_frac": floor_ms / ms,
        "rate": rate,
    }


def decode_rows(
    ceil: dict[str, float], batch: int, context: int, flashinfer: bool
) -> list[dict[str, Any]]:
    """Split-KV decode: the floor is reading every sequence's K and V once."""
    gen = torch.Generator().manual_seed(0)
    rows = []
    kv_bytes = batch * context * KV_HEADS * HEAD_DIM * 2 * 2
    floor = kv_bytes / ceil["copy_GBps"] / 1e6
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    for page_size in (1, 16):
        meta, slots = metadata([context - 1] * batch, [1] * batch, page_size, gen)
        x = attention_inputs(meta, slots)
        plan = plan_attention(meta, torch.device("cuda"), 64)
        out = torch.empty_like(x["q"])
        auto = choose_num_splits(batch, KV_HEADS, sms)
        configs = [(s, 64, 2) for s in (1, 2, 4, 8)] + [(1, 64, 3), (1, 128, 2), (1, 32, 3)]
        if page_size == 16:
            configs = [(auto, 64, 2)]
        for splits, block_n, stages in configs:
            ms = median_ms(
                partial(decode_attention, x["q"], x["k_cache"], x["v_cache"], out, plan,
                        HEAD_DIM**-0.5, splits, block_n=block_n, num_stages=stages)
            )
            name = f"triton decode p{page_size} splits={splits} bn={block_n} st={stages}"
            rate = f"{kv_bytes / ms / 1e6:.0f} GB/s"
            rows.append(row(name, f"{batch}x{context}", ms, floor, rate))
        for graph in (False, True):
            backend_ms = time_backend(TritonAttention("cuda"), meta, x, graph)
            how = "graph replay" if graph else "eager"
            rows.append(row(f"TritonAttention.forward p{page_size} (store+decode, {how})",
                            f"{batch}x{context}", backend_ms, floor, f"splits={auto}"))
        if page_size == 1 and flashinfer:
            rows.extend(flashinfer_row(meta, x, f"{batch}x{context}", floor, "decode"))
    return rows


def extend_flops(prefix_lens: list[int], ext_lens: list[int]) -> float:
    pairs = sum(e * p + e * (e + 1) // 2 for p, e in zip(prefix_lens, ext_lens))
    return 4.0 * pairs * Q_HEADS * HEAD_DIM


def extend_rows(
    ceil: dict[str, float],
    prefix_lens: list[int],
    ext_lens: list[int],
    sweep: bool,
    flashinfer: bool,
) -> list[dict[str, Any]]:
    """Extend (prefill over a cached prefix): the floor is the causal FLOPs at the matmul rate."""
    gen = torch.Generator().manual_seed(1)
    flops = extend_flops(prefix_lens, ext_lens)
    floor = flops / ceil["matmul_TFLOPs"] / 1e9
    shape = f"{len(ext_lens)}x({prefix_lens[0]}+{ext_lens[0]})"
    meta, slots = metadata(prefix_lens, ext_lens, 1, gen)
    x = attention_inputs(meta, slots)
    x["k_cache"][meta.out_slots] = x["k"]
    x["v_cache"][meta.out_slots] = x["v"]
    out = torch.empty_like(x["q"])
    configs = [
        (64, 64, 4, 2), (128, 64, 8, 3), (64, 64, 4, 3), (64, 128, 4, 2), (64, 128, 8, 3),
        (128, 128, 8, 3),
    ]
    rows = []
    for block_m, block_n, warps, stages in configs if sweep else configs[:2]:
        plan = plan_attention(meta, torch.device("cuda"), block_m)
        ms = median_ms(
            partial(extend_attention, x["q"], x["k_cache"], x["v_cache"], out, plan,
                    HEAD_DIM**-0.5, block_n=block_n, num_warps=warps, num_stages=stages)
        )
        name = f"triton extend bm={block_m} bn={block_n} w={warps} st={stages}"
        rows.append(row(name, shape, ms, floor, f"{flops / ms / 1e9:.0f} TFLOP/s"))
    for graph in (False, True):
        backend_ms = time_backend(TritonAttention("cuda"), meta, x, graph)
        how = "graph replay" if graph else "eager"
        rows.append(row(f"TritonAttention.forward (store+extend, {how})", shape, backend_ms,
                        floor, ""))
    if all(p == 0 for p in prefix_lens) and len(set(ext_lens)) == 1:
        rows.append(sdpa_row(len(ext_lens), ext_lens[0], flops, floor))
    if flashinfer:
        rows.extend(flashinfer_row(meta, x, shape, floor, "extend"))
    return rows


def time_backend(
    backend: Any, meta: AttentionMetadata, x: dict[str, torch.Tensor], graph: bool = False
) -> float:
    """One layer's forward after the per-forward prepare (prepare is paid once for all layers).

    Eager timings include Python launch costs whenever they exceed the GPU time; a CUDA graph
    replay (how the engine runs decodes) shows the GPU time alone.
    """
    backend.prepare(meta)

    def forward() -> torch.Tensor:
        return backend.forward(
            x["q"], x["k"], x["v"], x["k_cache"], x["v_cache"], meta, HEAD_DIM**-0.5
        )

    if not graph:
        return median_ms(forward)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        forward()
    torch.cuda.current_stream().wait_stream(side)
    captured = torch.cuda.CUDAGraph()
    with torch.cuda.graph(captured):
        forward()
    return median_ms(captured.replay)


def sdpa_row(batch: int, length: int, flops: float, floor: float) -> dict[str, Any]:
    """torch's dense causal SDPA on contiguous, head-expanded tensors: a non-paged baseline."""
    q = torch.randn(batch, Q_HEADS, length, HEAD_DIM, device="cuda", dtype=DTYPE)
    k = torch.randn(batch, Q_HEADS, length, HEAD_DIM, device="cuda", dtype=DTYPE)
    v = torch.randn_like(k)
    ms = median_ms(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True))
    return row("torch SDPA causal (dense, not paged)", f"{batch}x{length}", ms, floor,
               f"{flops / ms / 1e9:.0f} TFLOP/s")


def flashinfer_row(
    meta: AttentionMetadata, x: dict[str, torch.Tensor], shape: str, floor: float, kind: str
) -> list[dict[str, Any]]:
    """The flashinfer backend on the same inputs, when it imports and runs; else why not."""
    try:
        from lmc.kernels.attention.flashinfer_backend import FlashInferAttention

        ms = time_backend(FlashInferAttention("cuda"), meta, x)
    except Exception as err:  # any failure (import, JIT build, launch) becomes a row, not fatal
        return [{"kernel": f"flashinfer {kind}", "shape": shape, "rate": f"failed: {err!r}"[:160]}]
    return [row(f"FlashInferAttention.forward (store+{kind})", shape, ms, floor, "")]


def unfused_rms_norm(
    x: torch.Tensor, weight: torch.Tensor, eps: float, residual: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The reference arithmetic, one torch kernel per step: the launches the fused kernel saves."""
    total = x + residual
    x32 = total.float()
    normed = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)
    return weight * normed.to(total.dtype), total


def op_rows(ceil: dict[str, float]) -> list[dict[str, Any]]:
    """Fused Triton ops against the unfused torch arithmetic they replace, at the bytes floor."""
    rows = []
    for tokens in (64, 16384):
        x, r = (torch.randn(tokens, HIDDEN, device="cuda", dtype=DTYPE) for _ in range(2))
        w = torch.randn(HIDDEN, device="cuda", dtype=DTYPE)
        floor = 4 * tokens * HIDDEN * 2 / ceil["copy_GBps"] / 1e6
        shape = f"{tokens}x{HIDDEN}"
        rows.append(row("triton rms_norm+residual", shape,
                        median_ms(partial(fast.rms_norm, x, w, 1e-5, r)), floor, ""))
        rows.append(row("torch rms_norm+residual (unfused)", shape,
                        median_ms(partial(unfused_rms_norm, x, w, 1e-5, r)), floor, ""))

    tokens = 16384
    q = torch.randn(tokens, Q_HEADS, HEAD_DIM, device="cuda", dtype=DTYPE)
    k = torch.randn(tokens, KV_HEADS, HEAD_DIM, device="cuda", dtype=DTYPE)
    table = torch.randn(8192, HEAD_DIM, device="cuda")
    positions = torch.randint(0, 8192, (tokens,), device="cuda")
    floor = 2 * (q.numel() + k.numel()) * 2 / ceil["copy_GBps"] / 1e6

    def unfused_rotary() -> tuple[torch.Tensor, torch.Tensor]:
        cos, sin = table[positions].chunk(2, dim=-1)
        cos = torch.cat([cos, cos], -1).unsqueeze(1).to(DTYPE)
        sin = torch.cat([sin, sin], -1).unsqueeze(1).to(DTYPE)

        def rot(t: torch.Tensor) -> torch.Tensor:
            a, b = t.chunk(2, dim=-1)
            return torch.cat([-b, a], -1)

        return q * cos + rot(q) * sin, k * cos + rot(k) * sin

    shape = f"{tokens}x({Q_HEADS}+{KV_HEADS})x{HEAD_DIM}"
    rows.append(row("triton rotary", shape,
                    median_ms(lambda: fast.apply_rotary(q, k, positions, table)), floor, ""))
    rows.append(row("torch rotary (unfused)", shape, median_ms(unfused_rotary), floor, ""))

    gate_up = torch.randn(tokens, 2 * INTER, device="cuda", dtype=DTYPE)
    floor = 3 * tokens * INTER * 2 / ceil["copy_GBps"] / 1e6
    shape = f"{tokens}x2x{INTER}"
    rows.append(row("triton silu_and_mul", shape,
                    median_ms(lambda: fast.silu_and_mul(gate_up)), floor, ""))
    rows.append(row("torch silu_and_mul (unfused)", shape,
                    median_ms(lambda: F.silu(gate_up[:, :INTER]) * gate_up[:, INTER:]), floor, ""))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="lmc-bench", help="folder for the JSON report")
    parser.add_argument("--quick", action="store_true", help="skip the block-size sweeps")
    parser.add_argument("--flashinfer", action="store_true", help="also time the flashinfer backend")
    args = parser.parse_args()
    torch.manual_seed(0)
    ceil = ceilings()
    rows = decode_rows(ceil, 64, 1024, args.flashinfer)
    rows += extend_rows(ceil, [0] * 8, [2048] * 8, not args.quick, args.flashinfer)
    rows += extend_rows(ceil, [1024] * 64, [64] * 64, not args.quick, args.flashinfer)
    rows += op_rows(ceil)
    device = torch.cuda.get_device_name()
    tag = next((t for t in ("h100", "h200") if t in device.lower()), "gpu")
    write_report(
        f"kernels_{tag}",
        rows,
        out_dir=args.out,
        extra={
            "invocation": "python -m lmc.benchmarks.kernels",
            "device": device,
            "ceilings": ceil,
            "shapes": {"q_heads": Q_HEADS, "kv_heads": KV_HEADS, "head_dim": HEAD_DIM,
                       "dtype": "bfloat16"},
            "floors": "decode and ops: bytes / copy_GBps; extend: causal FLOPs / matmul_TFLOPs",
        },
    )


if __name__ == "__main__":
    main()
