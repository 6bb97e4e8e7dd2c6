"""Triton paged attention against scaled_dot_product_attention in float64 on gathered K/V.

On CUDA the kernels run compiled over many shapes; without CUDA they run under Triton's
interpreter (TRITON_INTERPRET=1, set before the kernels are imported) at tiny sizes, in float16:
the interpreter keeps bfloat16 as raw 16-bit integers and its `tl.dot` multiplies those as integers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
import torch
import torch.nn.functional as F

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
pytest.importorskip("triton")

from lmc.kernels.attention import AttentionMetadata  # noqa: E402
from lmc.kernels.attention.reference import ReferenceAttention  # noqa: E402
from lmc.kernels.attention.triton_backend import TritonAttention  # noqa: E402
from lmc.kernels.triton.decode_attention import choose_num_splits, decode_attention  # noqa: E402
from lmc.kernels.triton.extend_attention import extend_attention  # noqa: E402
from lmc.kernels.triton.plan import plan_attention  # noqa: E402

CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not CUDA, reason="needs a CUDA device")
TOL = {torch.bfloat16: 1e-2, torch.float16: 2e-3}


@dataclass
class Case:
    meta: AttentionMetadata
    q: torch.Tensor
    k: torch.Tensor
    v: torch.Tensor
    k_cache: torch.Tensor
    v_cache: torch.Tensor
    slots: list[torch.Tensor]  # per sequence, slot of each KV position
    specs: list[tuple[int, int]]  # (prefix_len, extend_len) per sequence


def make_case(
    specs: list[tuple[int, int]],
    num_q_heads: int,
    num_kv_heads: int,
    head_dim: int,
    dtype: torch.dtype,
    page_size: int,
    device: str,
    gen: torch.Generator,
) -> Case:
    """Sequences on shuffled pages; each page holds consecutive positions, so a prefix may end
    mid-page and its new tokens continue in that page. New slots hold stale random K/V."""
    seq_lens = [p + e for p, e in specs]
    pages_per_seq = [-(-n // page_size) for n in seq_lens]
    perm = torch.randperm(sum(pages_per_seq) + 3, generator=gen)
    slots, first = [], 0
    for n, pages in zip(seq_lens, pages_per_seq):
        own = perm[first : first + pages]
        first += pages
        pos = torch.arange(n)
        slots.append(own.repeat_interleave(page_size)[:n] * page_size + pos % page_size)
    num_slots = perm.numel() * page_size

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=gen).to(dtype=dtype, device=device)

    num_tokens = sum(e for _, e in specs)
    ext = [e for _, e in specs]
    meta = AttentionMetadata(
        qo_indptr=_indptr(ext, device),
        kv_indptr=_indptr(seq_lens, device),
        kv_indices=torch.cat(slots).to(device),
        out_slots=torch.cat([s[p:] for s, (p, _) in zip(slots, specs)]).to(device),
        seq_lens=torch.tensor(seq_lens, dtype=torch.int32, device=device),
        extend_lens=torch.tensor(ext, dtype=torch.int32, device=device),
        seq_lens_cpu=seq_lens,
        extend_lens_cpu=ext,
        page_size=page_size,
    )
    return Case(
        meta=meta,
        q=rand(num_tokens, num_q_heads, head_dim),
        k=rand(num_tokens, num_kv_heads, head_dim),
        v=rand(num_tokens, num_kv_heads, head_dim),
        k_cache=rand(num_slots, num_kv_heads, head_dim),
        v_cache=rand(num_slots, num_kv_heads, head_dim),
        slots=slots,
        specs=specs,
    )


def _indptr(lens: list[int], device: str) -> torch.Tensor:
    return torch.tensor([0, *torch.tensor(lens).cumsum(0).tolist()], dtype=torch.int32, device=device)


def oracle(case: Case, scale: float) -> torch.Tensor:
    """float64 SDPA per sequence over prefix K/V read from the cache plus the new K/V as given."""
    group = case.q.shape[1] // case.k.shape[1]
    q, k, v = (t.cpu().double() for t in (case.q, case.k, case.v))
    k_cache, v_cache = case.k_cache.cpu().double(), case.v_cache.cpu().double()
    outs, row = [], 0
    for slots, (prefix, ext) in zip(case.slots, case.specs):
        rows = slice(row, row + ext)
        row += ext
        keys = torch.cat([k_cache[slots[:prefix]], k[rows]]).repeat_interleave(group, dim=1)
        values = torch.cat([v_cache[slots[:prefix]], v[rows]]).repeat_interleave(group, dim=1)
        mask = torch.arange(prefix + ext)[None, :] <= (prefix + torch.arange(ext))[:, None]
        o = F.scaled_dot_product_attention(
            q[rows].transpose(0, 1), keys.transpose(0, 1), values.transpose(0, 1),
            attn_mask=mask, scale=scale,
        )
        outs.append(o.transpose(0, 1))
    return torch.cat(outs)


def store_new_kv(case: Case) -> None:
    case.k_cache[case.meta.out_slots] = case.k
    case.v_cache[case.meta.out_slots] = case.v


def assert_close(out: torch.Tensor, ref: torch.Tensor, tol: float) -> None:
    """Whole-tensor relative error within tol, and no token row worse than twice that."""
    out = out.cpu().double()
    assert torch.isfinite(out).all(), "output has NaN/inf (unwritten rows keep the NaN poison)"
    err = (out - ref).flatten(1).norm(dim=1)
    ref_norm = ref.flatten(1).norm(dim=1)
    total = float(err.norm() / ref_norm.norm())
    worst = float((err / ref_norm).max())
    assert total < tol and worst < 2 * tol, f"relative error {total:.2e}, worst row {worst:.2e}"


def poisoned_like(q: torch.Tensor) -> torch.Tensor:
    return torch.full_like(q, float("nan"))


def check_backend(case: Case, backend: TritonAttention, scale: float, tol: float) -> None:
    """The backend stores the new K/V exactly and attends like SDPA and like ReferenceAttention."""
    k_cache, v_cache = case.k_cache.clone(), case.v_cache.clone()
    reference = ReferenceAttention(case.q.device)
    reference.prepare(case.meta)
    expected = reference.forward(case.q, case.k, case.v, k_cache, v_cache, case.meta, scale)
    backend.prepare(case.meta)
    out = backend.forward(case.q, case.k, case.v, case.k_cache, case.v_cache, case.meta, scale)
    assert torch.equal(case.k_cache, k_cache) and torch.equal(case.v_cache, v_cache)
    assert torch.equal(case.k_cache[case.meta.out_slots], case.k)
    assert torch.equal(case.v_cache[case.meta.out_slots], case.v)
    assert_close(out, oracle(case, scale), tol)
    assert_close(out, expected.cpu().double(), tol)


# --- CPU: the same kernels through Triton's interpreter, tiny shapes -----------------------------

cpu_only = pytest.mark.skipif(CUDA, reason="interpreter run; the GPU tests cover this on CUDA")


@cpu_only
@pytest.mark.parametrize("page_size", [1, 16])
def test_extend_interpreted(page_size: int) -> None:
    gen = torch.Generator().manual_seed(page_size)
    case = make_case([(0, 5), (7, 1), (19, 20), (33, 16)], 4, 2, 16, torch.float16,
                     page_size, "cpu", gen)
    store_new_kv(case)
    plan = plan_attention(case.meta, torch.device("cpu"), block_m=16)
    out = poisoned_like(case.q)
    extend_attention(case.q, case.k_cache, case.v_cache, out, plan, 0.25, block_n=16)
    assert_close(out, oracle(case, 0.25), TOL[torch.float16])


@cpu_only
@pytest.mark.parametrize("num_splits", [1, 3])
def test_decode_interpreted(num_splits: int) -> None:
    gen = torch.Generator().manual_seed(10 + num_splits)
    case = make_case([(0, 1), (9, 1), (40, 1)], 4, 1, 16, torch.float16, 16, "cpu", gen)
    store_new_kv(case)
    plan = plan_attention(case.meta, torch.device("cpu"), block_m=16)
    out = poisoned_like(case.q)
    decode_attention(case.q, case.k_cache, case.v_cache, out, plan, 0.25, num_splits, block_n=16,
                     min_split=16)
    assert_close(out, oracle(case, 0.25), TOL[torch.float16])


@cpu_only
def test_backend_stores_kv_and_attends_interpreted() -> None:
    gen = torch.Generator().manual_seed(3)
    case = make_case([(3, 4), (0, 2)], 2, 2, 16, torch.float16, 1, "cpu", gen)
    check_backend(case, TritonAttention("cpu", extend_block_m=16), 0.25, TOL[torch.float16])


def test_backend_refuses_unprepared_metadata() -> None:
    gen = torch.Generator().manual_seed(4)
    case = make_case([(0, 1)], 1, 1, 16, torch.float16, 1, "cpu", gen)
    backend = TritonAttention("cpu")
    with pytest.raises(RuntimeError, match="prepare"):
        backend.forward(case.q, case.k, case.v, case.k_cache, case.v_cache, case.meta, 1.0)


def test_page_table_lists_each_page_once_in_order() -> None:
    gen = torch.Generator().manual_seed(5)
    case = make_case([(20, 3), (0, 16), (31, 2)], 1, 1, 16, torch.float16, 16, "cpu", gen)
    plan = plan_attention(case.meta, torch.device("cpu"), block_m=64)
    for b, slots in enumerate(case.slots):
        pages = plan.page_table[plan.page_indptr[b] : plan.page_indptr[b + 1]]
        assert torch.equal(pages, slots[::16] // 16)


def test_num_splits_fill_the_gpu() -> None:
    assert choose_num_splits(batch=64, num_kv_heads=8, num_sms=132) == 1
    assert choose_num_splits(batch=8, num_kv_heads=8, num_sms=132) == 5
    assert choose_num_splits(batch=1, num_kv_heads=1, num_sms=132) == 64


# --- GPU: compiled kernels over many shapes ------------------------------------------------------

SHAPES = [
    (group, head_dim, dtype, page_size)
    for group in (1, 4, 8)
    for head_dim in (64, 128)
    for dtype in (torch.bfloat16, torch.float16)
    for page_size in (1, 16)
]


def _ragged_specs(gen: torch.Generator) -> list[tuple[int, int]]:
    """Fixed corner cases (empty prefix, single token, prefixes ending mid-page) plus random ones."""
    specs = [(0, 1), (0, 130), (15, 1), (17, 64), (2000, 37), (1999, 129), (513, 300)]
    for _ in range(5):
        prefix = int(torch.randint(0, 2001, (1,), generator=gen))
        specs.append((prefix, int(torch.randint(1, 200, (1,), generator=gen))))
    return specs


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize(("group", "head_dim", "dtype", "page_size"), SHAPES)
@pytest.mark.parametrize("block_m", [64, 128])
def test_extend_gpu(
    group: int, head_dim: int, dtype: torch.dtype, page_size: int, block_m: int
) -> None:
    gen = torch.Generator().manual_seed(SHAPES.index((group, head_dim, dtype, page_size)) + block_m)
    case = make_case(_ragged_specs(gen), 2 * group, 2, head_dim, dtype, page_size, "cuda", gen)
    scale = head_dim**-0.5
    store_new_kv(case)
    plan = plan_attention(case.meta, torch.device("cuda"), block_m=block_m)
    out = poisoned_like(case.q)
    extend_attention(case.q, case.k_cache, case.v_cache, out, plan, scale)
    assert_close(out, oracle(case, scale), TOL[dtype])


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize(("group", "head_dim", "dtype", "page_size"), SHAPES)
@pytest.mark.parametrize(("num_splits", "min_split"), [(1, 256), (4, 256), (16, 64)])
def test_decode_gpu(
    group: int, head_dim: int, dtype: torch.dtype, page_size: int, num_splits: int, min_split: int
) -> None:
    gen = torch.Generator().manual_seed(SHAPES.index((group, head_dim, dtype, page_size)))
    lens = [0, 1, 15, 16, 17, 255, 2000] + torch.randint(0, 2001, (9,), generator=gen).tolist()
    case = make_case([(n, 1) for n in lens], 2 * group, 2, head_dim, dtype, page_size, "cuda", gen)
    scale = head_dim**-0.5
    store_new_kv(case)
    plan = plan_attention(case.meta, torch.device("cuda"), block_m=64)
    out = poisoned_like(case.q)
    decode_attention(case.q, case.k_cache, case.v_cache, out, plan, scale, num_splits,
                     min_split=min_split)
    assert_close(out, oracle(case, scale), TOL[dtype])


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize("specs", [[(n, 1) for n in (5, 700, 1500)], [(0, 40), (300, 1), (90, 7)]])
@pytest.mark.parametrize("page_size", [1, 16])
def test_backend_gpu(specs: list[tuple[int, int]], page_size: int) -> None:
    gen = torch.Generator().manual_seed(len(specs[0]) + page_size)
    case = make_case(specs, 32, 8, 128, torch.bfloat16, page_size, "cuda", gen)
    check_backend(case, TritonAttention("cuda"), 0.088, TOL[torch.bfloat16])
