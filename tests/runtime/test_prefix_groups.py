"""Shared-prefix groups read off the radix tree: who shares what, and that it really is shared.

The kernels read a group's prefix from its first member's KV list only, so the property that
matters is checked on real engine runs: every member's leading `prefix_len` slots are the very
same slots. The engine runs also check the rule (when a group forms, when not), and on the CPU
the Triton backend, through Triton's interpreter, against the reference backend end to end.
"""

from __future__ import annotations

import os
import random

import pytest
import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

from lmc.kernels.attention.shared_prefix import MIN_PREFIX, MIN_ROWS, PrefixGroup  # noqa: E402
from lmc.runtime.config import EngineConfig  # noqa: E402
from lmc.runtime.engine import Engine  # noqa: E402
from lmc.runtime.model_loader import load_model  # noqa: E402
from lmc.runtime.prefix_groups import PrefixGrouper, shared_prefix_groups  # noqa: E402
from lmc.runtime.request import Request, SamplingParams  # noqa: E402


def few_shot(rows: int, prefix: int, seed: int, shared_by: int | None = None) -> list[list[int]]:
    """`rows` prompts over one `prefix`-token head (the first `shared_by` of them; the rest get
    heads of their own), each with 3-20 tokens of its own."""
    rng = random.Random(seed)
    head = [1] + [rng.randrange(3, 250) for _ in range(prefix - 1)]
    out = []
    for i in range(rows):
        start = head if shared_by is None or i < shared_by else [1] + [rng.randrange(3, 250) for _ in range(prefix - 1)]
        out.append(start + [rng.randrange(3, 250) for _ in range(rng.randrange(3, 21))])
    return out


def run_recording(engine: Engine, prompts: list[list[int]], monkeypatch, new_tokens: int = 4):
    """Run `prompts`; return each step's groups with its members' slot lists as they were."""
    seen: list[tuple[list[PrefixGroup], list[torch.Tensor]]] = []

    original = PrefixGrouper.__call__

    def recording(self, seqs, extend_lens):
        groups = original(self, seqs, extend_lens)
        seen.append((groups, [seq.slots.clone() for seq in seqs]))
        return groups

    monkeypatch.setattr(PrefixGrouper, "__call__", recording)
    params = SamplingParams(max_tokens=new_tokens, ignore_eos=True)
    handles = [engine.submit(Request(ids, params)) for ids in prompts]
    engine.run_until_done()
    return seen, [h.output.output_ids for h in handles]


def engine(small_model_dir, backend: str = "reference", **config) -> Engine:
    loaded = load_model(str(small_model_dir), dtype="float32")
    return Engine(EngineConfig(attention_backend=backend, kv_cache_tokens=8192, max_running_requests=32,
                               **config), loaded=loaded)


def test_few_shot_rows_form_one_group_whose_prefix_slots_are_shared(small_model_dir, monkeypatch):
    rows = MIN_ROWS + 4
    seen, _ = run_recording(engine(small_model_dir), few_shot(rows, 300, seed=1), monkeypatch)
    grouped = [(groups, slots) for groups, slots in seen if groups]
    assert grouped, "no step grouped 12 decoding rows over a 300-token cached prefix"
    for groups, slots in grouped:
        for group in groups:
            assert len(group.members) >= MIN_ROWS and group.prefix_len >= MIN_PREFIX
            lead = slots[group.members[0]][: group.prefix_len]
            for b in group.members:
                assert torch.equal(slots[b][: group.prefix_len], lead), f"member {b} differs"
    decode_groups = [groups for groups, slots in grouped if len(slots) == rows]
    assert any(len(g) == 1 and len(g[0].members) == rows and g[0].prefix_len >= 300
               for g in decode_groups)


def test_no_group_when_too_few_rows_or_too_short_a_prefix(small_model_dir, monkeypatch):
    few, _ = run_recording(engine(small_model_dir), few_shot(MIN_ROWS + 4, 300, 2, shared_by=MIN_ROWS - 1),
                           monkeypatch)
    assert not any(groups for groups, _ in few)
    short, _ = run_recording(engine(small_model_dir), few_shot(MIN_ROWS + 4, MIN_PREFIX // 2, 3), monkeypatch)
    assert not any(groups for groups, _ in short)


def test_no_group_without_the_radix_cache(small_model_dir, monkeypatch):
    seen, _ = run_recording(engine(small_model_dir, enable_radix_cache=False), few_shot(MIN_ROWS + 4, 300, 4),
                            monkeypatch)
    assert not any(groups for groups, _ in seen)


def test_triton_cascade_matches_reference_end_to_end_interpreted(small_model_dir, monkeypatch):
    """Greedy tokens of the Triton backend (shared-prefix kernels included, through Triton's
    interpreter on the CPU) equal the reference backend's on two ragged few-shot groups."""
    pytest.importorskip("triton")
    if torch.cuda.is_available():
        pytest.skip("interpreter run; test_engine_gpu covers this on CUDA")
    prompts = few_shot(MIN_ROWS + 1, 280, 5) + few_shot(MIN_ROWS, 300, 6)
    seen, triton_out = run_recording(engine(small_model_dir, "triton"), prompts, monkeypatch, new_tokens=3)
    assert any(len(groups) == 2 for groups, _ in seen), "both groups should share their prefixes"
    _, reference_out = run_recording(engine(small_model_dir), prompts, monkeypatch, new_tokens=3)
    assert triton_out == reference_out


def test_grouper_reuses_its_answer_only_for_the_same_nodes(small_model_dir, monkeypatch):
    """Each step's answer, remembered or not, equals a fresh grouping of that step's batch."""
    reused: list[bool] = []
    original = PrefixGrouper.__call__

    def checking(self, seqs, extend_lens):
        before = self._groups
        groups = original(self, seqs, extend_lens)
        assert groups == shared_prefix_groups(seqs, extend_lens)
        reused.append(bool(groups) and groups is before)
        return groups

    monkeypatch.setattr(PrefixGrouper, "__call__", checking)
    eng = engine(small_model_dir)
    params = SamplingParams(max_tokens=6, ignore_eos=True)
    for ids in few_shot(MIN_ROWS + 2, 300, 8):
        eng.submit(Request(ids, params))
    eng.run_until_done()
    assert any(reused), "decode steps of one batch should reuse the last grouping"
