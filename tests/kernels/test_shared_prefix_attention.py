"""Cascade attention (a shared prefix read once per tile, folded into each sequence's own part)
against scaled_dot_product_attention in float64 over each sequence's whole KV list.

On CUDA the kernels run compiled at real sizes (many rows, ragged prefixes, prefixes ending
mid-page); without CUDA they run under Triton's interpreter (TRITON_INTERPRET=1, set before the
kernels are imported) at tiny sizes, in float16 (see test_triton_attention.py on bfloat16).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pytest
import torch
import torch.nn.functional as F

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
pytest.importorskip("triton")

from lmc.kernels.attention import AttentionMetadata  # noqa: E402
from lmc.kernels.attention.reference import ReferenceAttention  # noqa: E402
from lmc.kernels.attention.shared_prefix import (  # noqa: E402
    MIN_ROWS,
    TABLE_FIELDS,
    TILE_TOKENS,
    PrefixGroup,
    SharedPrefixTables,
    fill_tables,
    max_tiles,
)
from lmc.kernels.attention.triton_backend import TritonAttention  # noqa: E402
from lmc.kernels.triton.decode_attention import decode_attention  # noqa: E402
from lmc.kernels.triton.extend_attention import extend_attention  # noqa: E402
from lmc.kernels.triton.plan import plan_attention  # noqa: E402
from lmc.kernels.triton.shared_prefix_attention import shared_prefix_attention  # noqa: E402

CUDA = torch.cuda.is_available()
DEVICE = "cuda" if CUDA else "cpu"
TOL = {torch.bfloat16: 1e-2, torch.float16: 2e-3}


@dataclass
class Case:
    meta: AttentionMetadata
    q: torch.Tensor
    k_cache: torch.Tensor
    v_cache: torch.Tensor
    slots: list[torch.Tensor]
    specs: list[tuple[int, int]]  # (cached length, new tokens) per sequence


def make_case(
    groups: list[tuple[int, int]],
    loners: int,
    new_tokens: list[int],
    heads: tuple[int, int, int],
    dtype: torch.dtype,
    page_size: int,
    gen: torch.Generator,
) -> Case:
    """`groups` are (prefix length, sequences); `loners` sequences share nothing. Sequences of a
    group share the pages wholly inside their prefix; a prefix ending mid-page continues in a
    page of each sequence's own, holding a copy of the prefix's tail (as after copy-on-write).
    Each sequence caches 0-40 own tokens after its prefix, then computes `new_tokens[b]`."""
    num_q_heads, num_kv_heads, head_dim = heads
    specs, shared, owners = [], [], []
    for prefix, count in groups:
        shared.append(prefix)
        for _ in range(count):
            own = int(torch.randint(0, 41, (1,), generator=gen))
            specs.append((prefix + own, new_tokens[len(specs) % len(new_tokens)]))
            owners.append(len(shared) - 1)
    for _ in range(loners):
        specs.append((int(torch.randint(0, 300, (1,), generator=gen)), new_tokens[len(specs) % len(new_tokens)]))
        owners.append(-1)
    num_pages = sum(-(-(c + e) // page_size) for c, e in specs) + 1
    next_page = iter(torch.randperm(num_pages, generator=gen).tolist())
    group_pages = [[next(next_page) for _ in range(p // page_size)] for p in shared]
    slots, copies = [], []
    for (cached, new), owner in zip(specs, owners):
        n = cached + new
        pages = list(group_pages[owner]) if owner >= 0 else []
        while len(pages) * page_size < n:
            pages.append(next(next_page))
        pos = torch.arange(n)
        slots.append(torch.tensor(pages).repeat_interleave(page_size)[:n] * page_size + pos % page_size)
        if owner >= 0:
            copies.append((owner, slots[-1]))
    num_slots = num_pages * page_size

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=gen).to(dtype=dtype, device=DEVICE)

    k_cache, v_cache = rand(num_slots, num_kv_heads, head_dim), rand(num_slots, num_kv_heads, head_dim)
    leaders: dict[int, torch.Tensor] = {}
    for owner, s in copies:  # every member's prefix holds its leader's K/V (mid-page tails too)
        lead = leaders.setdefault(owner, s)
        prefix = shared[owner]
        k_cache[s[:prefix].to(DEVICE)] = k_cache[lead[:prefix].to(DEVICE)]
        v_cache[s[:prefix].to(DEVICE)] = v_cache[lead[:prefix].to(DEVICE)]
    ext = [e for _, e in specs]
    seq_lens = [c + e for c, e in specs]
    meta = AttentionMetadata(
        qo_indptr=_indptr(ext), kv_indptr=_indptr(seq_lens),
        kv_indices=torch.cat(slots).to(DEVICE),
        out_slots=torch.cat([s[c:] for s, (c, _) in zip(slots, specs)]).to(DEVICE),
        seq_lens=torch.tensor(seq_lens, dtype=torch.int32, device=DEVICE),
        extend_lens=torch.tensor(ext, dtype=torch.int32, device=DEVICE),
        seq_lens_cpu=seq_lens, extend_lens_cpu=ext, page_size=page_size,
    )
    members, first = [], 0
    for _, count in groups:
        members.append(tuple(range(first, first + count)))
        first += count
    meta.shared_prefix = tables_for([PrefixGroup(p, m) for p, m in zip(shared, members)], ext)
    q = rand(sum(ext), num_q_heads, head_dim)
    return Case(meta, q, k_cache, v_cache, slots, specs)


def tables_for(groups: list[PrefixGroup], ext: list[int]) -> SharedPrefixTables:
    """The tables as `step_inputs.fill` writes them: int32 arrays at capacity, moved to DEVICE."""
    tokens, seqs = sum(ext), len(ext)
    host = {name: np.zeros(seqs if name == "prefix_lens" else tokens, dtype=np.int32) for name in TABLE_FIELDS}
    fill_tables(host, groups, np.concatenate([[0], np.cumsum(ext)]))
    return SharedPrefixTables(**{k: torch.from_numpy(v).to(DEVICE) for k, v in host.items()},
                              num_tiles=max_tiles(tokens, seqs))


def _indptr(lens: list[int]) -> torch.Tensor:
    return torch.tensor([0, *np.cumsum(lens).tolist()], dtype=torch.int32, device=DEVICE)


def oracle(case: Case, scale: float) -> torch.Tensor:
    """float64 SDPA of each sequence's new queries over its whole KV list (causal on new ones)."""
    group = case.q.shape[1] // case.k_cache.shape[1]
    q, k_cache, v_cache = (t.cpu().double() for t in (case.q, case.k_cache, case.v_cache))
    outs, row = [], 0
    for slots, (cached, ext) in zip(case.slots, case.specs):
        keys = k_cache[slots].repeat_interleave(group, dim=1).transpose(0, 1)
        values = v_cache[slots].repeat_interleave(group, dim=1).transpose(0, 1)
        mask = torch.arange(cached + ext)[None, :] <= (cached + torch.arange(ext))[:, None]
        o = F.scaled_dot_product_attention(q[row : row + ext].transpose(0, 1), keys, values,
                                           attn_mask=mask, scale=scale)
        outs.append(o.transpose(0, 1))
        row += ext
    return torch.cat(outs)


def assert_close(out: torch.Tensor, ref: torch.Tensor, tol: float) -> None:
    out = out.cpu().double()
    assert torch.isfinite(out).all(), "output has NaN/inf (unwritten rows keep the NaN poison)"
    err = (out - ref).flatten(1).norm(dim=1) / ref.flatten(1).norm(dim=1)
    assert float(err.max()) < tol, f"worst row relative error {float(err.max()):.2e}"


def run_cascade(case: Case, scale: float, prefix_splits: int, splits: int, small: bool) -> torch.Tensor:
    """Both halves of cascade attention through the kernels themselves; NaN-poisoned output."""
    sizes = dict(block_n=16, min_split=16) if small else {}
    plan = plan_attention(case.meta, torch.device(DEVICE), block_m=16 if small else 64)
    parts = shared_prefix_attention(case.q, case.k_cache, case.v_cache, plan, case.meta.shared_prefix,
                                    scale, prefix_splits, **sizes)
    out = torch.full_like(case.q, float("nan"))
    if case.meta.is_decode:
        decode_attention(case.q, case.k_cache, case.v_cache, out, plan, scale, splits,
                         prefix=parts, **sizes)
    else:
        extend_attention(case.q, case.k_cache, case.v_cache, out, plan, scale,
                         block_n=16 if small else 64, prefix=parts)
    return out


# --- the host tables -----------------------------------------------------------------------------

def test_tables_tile_each_groups_tokens_and_nothing_else() -> None:
    ext = [1, 3, 1, 2] * 5 + [7]
    groups = [PrefixGroup(300, tuple(range(0, 20, 2))), PrefixGroup(40, tuple(range(1, 20, 2)))]
    tables = tables_for(groups, ext)
    qo = np.concatenate([[0], np.cumsum(ext)])
    lens = tables.prefix_lens.cpu().numpy()
    assert lens.tolist() == [300 if b < 20 and b % 2 == 0 else 40 if b < 20 else 0 for b in range(21)]
    seen: dict[int, int] = {}
    for t in range(tables.num_tiles):
        count = int(tables.tile_count[t])
        assert 0 <= count <= TILE_TOKENS
        first = int(tables.tile_first[t])
        for token in tables.tile_tokens[first : first + count].tolist():
            seq = int(np.searchsorted(qo, token, side="right")) - 1
            assert int(tables.tile_len[t]) == lens[seq]
            assert lens[int(tables.tile_leader[t])] == lens[seq]
            seen[token] = seen.get(token, 0) + 1
    grouped = [t for b in range(20) for t in range(qo[b], qo[b + 1])]
    assert sorted(seen) == grouped and set(seen.values()) == {1}


def test_tables_refuse_a_group_too_small_to_count_tiles_for() -> None:
    with pytest.raises(ValueError, match="at least"):
        tables_for([PrefixGroup(300, tuple(range(MIN_ROWS - 1)))], [1] * MIN_ROWS)


# --- CPU: the kernels through Triton's interpreter, tiny shapes ----------------------------------

cpu_only = pytest.mark.skipif(CUDA, reason="interpreter run; the GPU tests cover this on CUDA")


@cpu_only
@pytest.mark.parametrize(("page_size", "prefix_splits", "splits"), [(1, 1, 1), (4, 3, 2)])
def test_decode_cascade_interpreted(page_size: int, prefix_splits: int, splits: int) -> None:
    gen = torch.Generator().manual_seed(page_size)
    case = make_case([(37, 8), (18, 9)], 3, [1], (4, 2, 16), torch.float16, page_size, gen)
    out = run_cascade(case, 0.25, prefix_splits, splits, small=True)
    assert_close(out, oracle(case, 0.25), TOL[torch.float16])


@cpu_only
@pytest.mark.parametrize("page_size", [1, 4])
def test_extend_cascade_interpreted(page_size: int) -> None:
    gen = torch.Generator().manual_seed(20 + page_size)
    case = make_case([(33, 8)], 2, [1, 3, 5, 2], (2, 1, 16), torch.float16, page_size, gen)
    out = run_cascade(case, 0.25, 1, 1, small=True)
    assert_close(out, oracle(case, 0.25), TOL[torch.float16])


@cpu_only
def test_backend_with_tables_matches_reference_interpreted() -> None:
    """The backend's own path (its split choice, its block sizes) and ReferenceAttention, which
    ignores the tables, agree; the prefix there is longer than one MIN_SPLIT of 256."""
    gen = torch.Generator().manual_seed(7)
    case = make_case([(270, 8)], 1, [1], (2, 1, 16), torch.float16, 1, gen)
    k = case.k_cache[case.meta.out_slots].clone()
    v = case.v_cache[case.meta.out_slots].clone()
    backend = TritonAttention("cpu", extend_block_m=16)
    backend.prepare(case.meta)
    out = backend.forward(case.q, k, v, case.k_cache, case.v_cache, case.meta, 0.25)
    reference = ReferenceAttention("cpu")
    expected = reference.forward(case.q, k, v, case.k_cache.clone(), case.v_cache.clone(), case.meta, 0.25)
    assert_close(out, expected.double(), TOL[torch.float16])
    assert_close(out, oracle(case, 0.25), TOL[torch.float16])


# --- GPU: compiled kernels at real sizes ---------------------------------------------------------

GPU_SHAPES = [(page, group, torch.bfloat16) for page in (1, 16) for group in (1, 4, 8)]
GPU_SHAPES.append((16, 4, torch.float16))


@pytest.mark.gpu
@pytest.mark.skipif(not CUDA, reason="needs a CUDA device")
@pytest.mark.parametrize(("page_size", "group", "dtype"), GPU_SHAPES)
@pytest.mark.parametrize("kind", ["decode", "extend"])
def test_cascade_gpu(page_size: int, group: int, dtype: torch.dtype, kind: str) -> None:
    gen = torch.Generator().manual_seed(page_size * 100 + group)
    new = [1] if kind == "decode" else [1, 4, 16, 7]
    # 256 rows over one 1 000-token prefix (ends mid-page at page 16), plus ragged groups.
    case = make_case([(1000, 256), (257, 12), (1023, 9)], 5, new, (2 * group, 2, 128), dtype,
                     page_size, gen)
    out = run_cascade(case, 128**-0.5, 4 if kind == "decode" else 1, 1, small=False)
    assert_close(out, oracle(case, 128**-0.5), TOL[dtype])
