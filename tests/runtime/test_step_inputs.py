"""Step inputs: one buffer holds every index array, and decode padding never touches real KV."""

from __future__ import annotations

import random

import pytest
import torch

from lmc.kernels.attention import create_backend
from lmc.runtime.config import EngineConfig
from lmc.runtime.cuda_graph import default_batch_sizes
from lmc.runtime.engine import Engine
from lmc.runtime.kv_pool import KVPool
from lmc.runtime.model_loader import load_model
from lmc.runtime.request import Request, SamplingParams
from lmc.runtime.scheduler import ScheduledBatch
from lmc.runtime.sequence import Sequence
from lmc.runtime.step_buffer import StepLayout, StepSizes, host_buffer
from lmc.runtime.step_inputs import StepRows, fill, metadata, plan_rows

CPU = torch.device("cpu")


def _seq(tokens: list[int], computed: int, slots: list[int], **request) -> Sequence:
    seq = Sequence(Request(tokens, SamplingParams(max_tokens=4), **request), "r", tokens, len(tokens), 0)
    seq.num_computed = computed
    seq.slots = torch.tensor(slots, dtype=torch.int64)
    return seq


def _random_batch(rng: random.Random) -> ScheduledBatch:
    """Sequences at random progress: prefill chunks, decodes, some scoring prompt tokens."""
    batch = ScheduledBatch()
    free = list(range(1, 4000))
    rng.shuffle(free)
    for _ in range(rng.randrange(1, 8)):
        prompt = [rng.randrange(3, 100) for _ in range(rng.randrange(2, 40))]
        computed = rng.randrange(0, len(prompt))
        n = rng.randrange(1, len(prompt) - computed + 1)
        slots = [free.pop() for _ in range(computed + n)]
        start = rng.choice([None, rng.randrange(1, len(prompt) + 1)])
        batch.add(_seq(prompt, computed, slots, logprob_start=start), n)
    return batch


def _naive(batch: ScheduledBatch) -> dict[str, list[int]]:
    """The arrays written out one sequence at a time, as a reader would by hand."""
    out: dict[str, list[int]] = {k: [] for k in ("input_ids", "positions", "out_slots", "kv_indices")}
    for seq, n in zip(batch.seqs, batch.extend_lens):
        start, end = seq.num_computed, seq.num_computed + n
        out["input_ids"] += seq.token_ids[start:end]
        out["positions"] += list(range(start, end))
        out["out_slots"] += seq.slots[start:end].tolist()
        out["kv_indices"] += seq.slots[:end].tolist()
    return out


@pytest.mark.parametrize("seed", range(20))
def test_fill_matches_per_sequence_construction(seed):
    batch = _random_batch(random.Random(seed))
    rows = plan_rows(batch)
    sizes = StepSizes(len(rows.input_ids), len(rows.seq_lens), len(rows.logits_rows), rows.kv_entries)
    layout = StepLayout.for_sizes(sizes)
    host = host_buffer(layout.nbytes, CPU).fill_(0xAB)  # poison: every byte must be written
    views = layout.views(host)
    fill(views, rows, pad_to=len(rows.seq_lens))
    for name, expected in _naive(batch).items():
        assert views[name].tolist() == expected, name
    lens = [s.num_computed + n for s, n in zip(batch.seqs, batch.extend_lens)]
    assert views["seq_lens"].tolist() == lens
    assert views["extend_lens"].tolist() == batch.extend_lens
    assert views["kv_indptr"].tolist() == [sum(lens[:i]) for i in range(len(lens) + 1)]
    assert views["qo_indptr"].tolist() == [sum(batch.extend_lens[:i]) for i in range(len(lens) + 1)]
    assert views["logits_rows"].tolist() == rows.logits_rows
    assert all(start % 16 == 0 for start in layout.offsets.values())


def test_padding_rows_use_only_the_scratch_slot():
    batch = ScheduledBatch()
    batch.add(_seq([5, 6, 7, 8], 3, [9, 4, 11, 12]), 1)
    batch.add(_seq([5, 9], 1, [9, 30]), 1)
    rows = plan_rows(batch)
    layout = StepLayout.for_sizes(StepSizes(8, 8, 8, 64))
    views = layout.views(host_buffer(layout.nbytes, CPU), rows.kv_entries + 3)
    fill(views, rows, pad_to=5)
    assert views["input_ids"][:5].tolist() == [8, 9, 0, 0, 0]
    assert views["positions"][:5].tolist() == [3, 1, 0, 0, 0]
    assert views["out_slots"][:5].tolist() == [12, 30, 0, 0, 0]
    assert views["seq_lens"][:5].tolist() == [4, 2, 1, 1, 1]
    assert views["kv_indptr"][:6].tolist() == [0, 4, 6, 7, 8, 9]
    assert views["kv_indices"].tolist() == [9, 4, 11, 12, 9, 30, 0, 0, 0]
    with pytest.raises(ValueError, match="only decode batches"):
        extend = ScheduledBatch()
        extend.add(_seq([5, 6, 7], 0, [1, 2, 3]), 3)
        fill(views, plan_rows(extend), pad_to=2)


def test_padded_forward_equals_exact_forward(small_model_dir):
    """What a captured graph computes (padded rows, one static layout) against the plain forward,
    with the reference backend on the CPU: same logits for the real rows, same KV writes, and
    nothing but the scratch slot written for the padding."""
    loaded = load_model(str(small_model_dir))
    model = loaded.model
    pool = KVPool(200, model.num_layers, model.num_kv_heads, model.head_dim, torch.float32, CPU)
    for cache in pool.k_caches + pool.v_caches:
        cache.normal_()
    kv_caches = list(zip(pool.k_caches, pool.v_caches))
    attn = create_backend("reference", CPU)
    rng = random.Random(3)
    batch = ScheduledBatch()
    slots = iter(range(1, 201))
    for length in (5, 17, 9):
        tokens = [rng.randrange(3, 1000) for _ in range(length)]
        batch.add(_seq(tokens, length - 1, [next(slots) for _ in range(length)]), 1)
    rows = plan_rows(batch)

    def run(layout: StepLayout, pad_to: int) -> tuple[torch.Tensor, list[torch.Tensor]]:
        caches = [c.clone() for c in pool.k_caches]
        for k, c in zip(pool.k_caches, caches):
            k.copy_(c)
        views = layout.views(torch.zeros(layout.nbytes, dtype=torch.uint8))
        fill(views, rows, pad_to)
        meta = metadata(views, rows, pad_to)
        attn.prepare(meta)
        rows_all = torch.arange(pad_to)
        logits = model(views["input_ids"][:pad_to], views["positions"][:pad_to], kv_caches, meta,
                       attn, rows_all)
        written = [k.clone() for k in pool.k_caches]
        for k, c in zip(pool.k_caches, caches):
            k.copy_(c)
        return logits[: len(rows.seq_lens)], written

    exact = StepLayout.for_sizes(StepSizes(3, 3, 3, rows.kv_entries))
    static = StepLayout.for_sizes(StepSizes(8, 8, 8, 100))
    want, want_k = run(exact, 3)
    got, got_k = run(static, 8)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    new_slots = [s.slots[-1].item() for s in batch.seqs]
    untouched = [i for i in range(1, 201) if i not in new_slots]
    for a, b, before in zip(got_k, want_k, pool.k_caches):
        torch.testing.assert_close(a[new_slots], b[new_slots], rtol=1e-5, atol=1e-5)
        assert torch.equal(a[untouched], before[untouched])


def test_default_batch_sizes():
    assert default_batch_sizes(1) == [1]
    assert default_batch_sizes(3) == [1, 2, 3]
    assert default_batch_sizes(16) == [1, 2, 4, 8, 16]
    sizes = default_batch_sizes(256)
    assert sizes[:11] == [1, 2, 4, 8, 16, 24, 32, 40, 48, 56, 64] and sizes[-1] == 256
    assert all(b - a <= 16 for a, b in zip(sizes[3:], sizes[4:]))
    assert default_batch_sizes(100)[-2:] == [96, 100]


def test_no_graphs_on_cpu(small_model_dir):
    engine = Engine(EngineConfig(enable_cuda_graph=True), loaded=load_model(str(small_model_dir)))
    assert engine.runner.graphs is None
    out = engine.generate([[1, 5, 6, 7]], SamplingParams(max_tokens=3, ignore_eos=True))
    assert len(out[0].output_ids) == 3


def test_empty_rows_pad_to_a_full_batch():
    layout = StepLayout.for_sizes(StepSizes(4, 4, 4, 16))
    views = layout.views(torch.zeros(layout.nbytes, dtype=torch.uint8), 4)
    fill(views, StepRows([], [], [], [], [], [], [], []), pad_to=4)
    assert views["kv_indptr"].tolist() == [0, 1, 2, 3, 4]
    assert views["out_slots"].tolist() == [0, 0, 0, 0]
