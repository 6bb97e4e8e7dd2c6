"""The GGUF weights cache: used when present, rebuilt when the GGUF changes or the file is damaged,
and never a difference in the model (transformers' own GGUF loading is the reference)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM

from lmc.runtime.config import EngineConfig
from lmc.runtime.engine import Engine
from lmc.runtime.gguf import checkpoint, weights_cache
from lmc.runtime.model_loader import load_model
from lmc.runtime.request import SamplingParams
from tests.runtime.test_gguf import write_gguf

PROMPT = [5, 77, 140, 200, 33, 90, 12]


@pytest.fixture
def dequantized(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The GGUF tensor types dequantized so far in this test (empty: the weights came from the cache)."""
    calls: list[str] = []
    real = checkpoint.dequantize

    def counting(data, type_name, shape, dtype):  # noqa: ANN001, ANN202
        calls.append(type_name)
        return real(data, type_name, shape, dtype)

    monkeypatch.setattr(checkpoint, "dequantize", counting)
    return calls


def _cache_file(path: Path) -> Path:
    return weights_cache.cache_file(checkpoint.GGUFCheckpoint.open(path).cache_dir, torch.float32)


def _state(path: Path) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in load_model(str(path)).model.named_parameters()}


def _assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


def _greedy_matches_transformers(path: Path) -> None:
    reference = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    expected = reference.generate(torch.tensor([PROMPT]), max_new_tokens=8, do_sample=False, eos_token_id=None)
    engine = Engine(EngineConfig(model=str(path), kv_cache_tokens=64))
    ours = engine.generate([PROMPT], SamplingParams(max_tokens=8, ignore_eos=True))[0].output_ids
    assert list(ours) == expected[0, len(PROMPT) :].tolist()


def test_a_second_load_reads_the_cache_and_equals_the_first(tmp_path: Path, dequantized: list[str]) -> None:
    path = write_gguf(tmp_path / "model.gguf", "Q4_1")
    first = _state(path)
    assert "Q4_1" in dequantized and _cache_file(path).is_file()
    on_disk = load_file(_cache_file(path))  # safetensors' own reader: the file is a valid one
    _assert_same(on_disk, first)
    dequantized.clear()
    _assert_same(_state(path), first)
    assert dequantized == []
    _greedy_matches_transformers(path)  # the cached load, end to end
    assert dequantized == []


def test_a_rewritten_gguf_gets_its_own_weights(tmp_path: Path, dequantized: list[str]) -> None:
    path = write_gguf(tmp_path / "model.gguf", "Q8_0", seed=0)
    old = _state(path)
    old_cache = _cache_file(path)
    stamp = path.stat().st_mtime_ns
    write_gguf(path, "Q8_0", seed=1)  # same size, other values
    os.utime(path, ns=(stamp + 10**9, stamp + 10**9))  # as a write a second later would: coarse clocks
    dequantized.clear()
    new = _state(path)
    assert dequantized, "the rewritten file was not dequantized"
    assert not torch.equal(new["layers.0.self_attn.qkv_proj"], old["layers.0.self_attn.qkv_proj"])
    assert not old_cache.parent.exists(), "the old file's cache directory was left behind"
    _greedy_matches_transformers(path)


def _truncate(cache: Path) -> None:
    cache.write_bytes(cache.read_bytes()[: cache.stat().st_size // 2])


def _bend_header(cache: Path) -> None:
    """One tensor's shape changes in the header (same length as far as safetensors can tell)."""
    cache.write_bytes(cache.read_bytes().replace(b'"shape":[', b'"shape":[1,', 1))


def _replace_with_other_tensors(cache: Path) -> None:
    save_file({"x": torch.zeros(3)}, cache)  # a valid safetensors file, of something else


@pytest.mark.parametrize("damage", [_truncate, _bend_header, _replace_with_other_tensors])
def test_a_damaged_cache_is_rebuilt_not_read(tmp_path: Path, dequantized: list[str], damage) -> None:  # noqa: ANN001
    path = write_gguf(tmp_path / "model.gguf", "Q4_0")
    good = _state(path)
    cache = _cache_file(path)
    size = cache.stat().st_size
    damage(cache)
    dequantized.clear()
    _assert_same(_state(path), good)
    assert dequantized, "a damaged cache was read"
    assert cache.stat().st_size == size
    dequantized.clear()
    _assert_same(_state(path), good)
    assert dequantized == []  # and the rebuilt one is used again
