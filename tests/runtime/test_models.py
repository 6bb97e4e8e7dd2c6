"""Our packed-batch Llama family against transformers' own models on the same checkpoints."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest
import torch
import transformers

from lmc.kernels.attention import AttentionMetadata
from lmc.kernels.attention.reference import ReferenceAttention
from lmc.runtime.model_loader import fill_dummy_weights, load_model
from lmc.runtime.models import presets
from lmc.runtime.models.llama import LlamaForCausalLM
from lmc.runtime.models.tiny import build_tiny_model

SMALL = {
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "intermediate_size": 128,
}
VARIANTS = {
    "llama": {},
    "qwen2_tied": {"architectures": ["Qwen2ForCausalLM"], "tie_word_embeddings": True, "rms_norm_eps": 1e-6},
    "mistral_linear_rope": {
        "architectures": ["MistralForCausalLM"],
        "num_key_value_heads": 1,
        "head_dim": 32,
        "rope_scaling": {"rope_type": "linear", "factor": 4.0},
    },
    "llama3_rope": {
        "rope_theta": 500000.0,
        "max_position_embeddings": 16384,
        "rope_scaling": {
            "rope_type": "llama3",
            "factor": 8.0,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
            "original_max_position_embeddings": 8192,
        },
    },
}
NUM_SLOTS = 128


class PagedRun:
    """Drives our model step by step like an engine: per-sequence token lists, random free slots."""

    def __init__(self, model: LlamaForCausalLM, seed: int) -> None:
        self.model = model
        self.rng = random.Random(seed)
        self.free = self.rng.sample(range(NUM_SLOTS), NUM_SLOTS)  # non-contiguous, shuffled
        shape = (NUM_SLOTS, model.num_kv_heads, model.head_dim)
        self.kv = [(torch.zeros(shape), torch.zeros(shape)) for _ in range(model.num_layers)]
        self.attn = ReferenceAttention("cpu")
        self.tokens: list[list[int]] = []
        self.slots: list[list[int]] = []

    def step(self, new_tokens: list[list[int]]) -> list[torch.Tensor]:
        """Append new_tokens[b] to sequence b (a new sequence if b is past the end); return the
        logits of every new token, per sequence."""
        while len(self.tokens) < len(new_tokens):
            self.tokens.append([])
            self.slots.append([])
        ids, positions, kv_indices, out_slots, seq_lens, ext_lens = [], [], [], [], [], []
        for b, new in enumerate(new_tokens):
            start = len(self.tokens[b])
            fresh = [self.free.pop() for _ in new]
            self.tokens[b] += new
            self.slots[b] += fresh
            ids += new
            positions += range(start, start + len(new))
            kv_indices += self.slots[b]
            out_slots += fresh
            seq_lens.append(len(self.tokens[b]))
            ext_lens.append(len(new))
        meta = AttentionMetadata(
            qo_indptr=_indptr(ext_lens),
            kv_indptr=_indptr(seq_lens),
            kv_indices=torch.tensor(kv_indices),
            out_slots=torch.tensor(out_slots),
            seq_lens=torch.tensor(seq_lens, dtype=torch.int32),
            extend_lens=torch.tensor(ext_lens, dtype=torch.int32),
            seq_lens_cpu=seq_lens,
            extend_lens_cpu=ext_lens,
        )
        self.attn.prepare(meta)
        logits = self.model(
            torch.tensor(ids), torch.tensor(positions), self.kv, meta, self.attn, torch.arange(len(ids))
        )
        return list(logits.split(ext_lens))


def _indptr(lengths: list[int]) -> torch.Tensor:
    return torch.tensor([0, *torch.tensor(lengths).cumsum(0).tolist()], dtype=torch.int32)


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def variant_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp(request.param), seed=7, **{**SMALL, **VARIANTS[request.param]})


def test_logits_match_transformers_through_prefill_decode_and_chunked_extend(variant_dir: Path) -> None:
    loaded = load_model(str(variant_dir))
    assert loaded.dtype == torch.float32
    reference = transformers.AutoModelForCausalLM.from_pretrained(variant_dir, dtype=torch.float32).eval()
    rng = random.Random(3)

    def tokens(n: int) -> list[int]:
        return [rng.randrange(3, loaded.model.vocab_size) for _ in range(n)]

    run = PagedRun(loaded.model, seed=5)
    ours = [[] for _ in range(3)]
    steps = [
        [tokens(9), tokens(14), tokens(5)],  # prefill of three prompts in one batch
        [tokens(1), tokens(1), tokens(1)],  # one decode step each
        [tokens(6), tokens(1), tokens(4)],  # chunked extends on the cached prefixes, plus a decode
        [tokens(1), tokens(3), tokens(1)],
    ]
    for new in steps:
        for b, logits in enumerate(run.step(new)):
            ours[b].append(logits)

    with torch.no_grad():
        for b, seq in enumerate(run.tokens):
            expected = reference(torch.tensor([seq])).logits[0].float()
            torch.testing.assert_close(torch.cat(ours[b]), expected, atol=1e-4, rtol=0)


def test_tiny_model_greedy_text_varies() -> None:
    """The default model's random weights still give varied greedy text (not one looping token)."""
    loaded = load_model("tiny")
    ids = loaded.tokenizer.encode("The capital of France is", add_bos=True)
    run = PagedRun(loaded.model, seed=0)
    step = [ids]
    generated = []
    for _ in range(12):
        logits = run.step(step)[0][-1]
        top2 = logits.topk(2).values
        assert top2[0] - top2[1] > 1e-4  # greedy choice not decided by rounding
        generated.append(int(logits.argmax()))
        step = [generated[-1:]]
    assert len(set(generated)) >= 8


SHRINK = {
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 16,
    "intermediate_size": 96,
    "vocab_size": 1024,
}


def test_dummy_load_of_shrunken_preset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(presets.PRESETS, "llama-3.2-1b", {**presets.PRESETS["llama-3.2-1b"], **SHRINK})
    loaded = load_model("llama-3.2-1b", load_format="dummy", seed=1)
    model = loaded.model
    assert loaded.model_dir is None
    assert loaded.tokenizer.vocab_size == 32000  # the tiny tokenizer stands in
    assert model.lm_head is None and model.head_dim == 16 and model.num_kv_heads == 2
    assert torch.isfinite(torch.cat(PagedRun(model, seed=0).step([[5, 6, 7], [8]]))).all()

    weights = {name: p.clone() for name, p in model.named_parameters()}
    assert torch.equal(weights["norm"], torch.ones(64))
    fill_dummy_weights(model, seed=1)
    assert all(torch.equal(p, weights[name]) for name, p in model.named_parameters())
    fill_dummy_weights(model, seed=2)
    assert not torch.equal(model.embed_tokens, weights["embed_tokens"])


# Parameter counts published for each model (Hugging Face model cards / safetensors metadata).
PUBLISHED_PARAMETERS = {
    "llama-2-7b": 6_738_415_616,
    "llama-3-8b": 8_030_261_248,
    "llama-3.1-8b": 8_030_261_248,
    "llama-3.2-1b": 1_235_814_400,
    "mistral-7b": 7_241_732_096,
    "qwen2.5-0.5b": 494_032_768,
    "qwen2.5-7b": 7_615_616_512,
}


@pytest.mark.parametrize("name", sorted(PUBLISHED_PARAMETERS))
def test_preset_shapes_match_published_parameter_counts(name: str) -> None:
    model = LlamaForCausalLM(presets.preset_config(name), torch.bfloat16, torch.device("meta"))
    assert sum(p.numel() for p in model.parameters()) == PUBLISHED_PARAMETERS[name]


def _copy_model(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_errors_name_the_problem(small_model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="neither 'tiny', a preset"):
        load_model(str(tmp_path / "nowhere"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="neither a config.json nor a .gguf file"):
        load_model(str(tmp_path / "empty"))

    no_weights = _copy_model(small_model_dir, tmp_path / "no_weights")
    (no_weights / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="no \\*.safetensors"):
        load_model(str(no_weights))
    assert load_model(str(no_weights), load_format="dummy").model.num_layers == 2

    foreign = _copy_model(small_model_dir, tmp_path / "foreign")
    config = json.loads((foreign / "config.json").read_text())
    (foreign / "config.json").write_text(json.dumps({**config, "architectures": ["GPT2LMHeadModel"]}))
    with pytest.raises(ValueError, match="'GPT2LMHeadModel' is not supported.*LlamaForCausalLM"):
        load_model(str(foreign))

    with pytest.raises(ValueError, match="preset shape without weights"):
        load_model("llama-3-8b")
    with pytest.raises(ValueError, match="unknown load_format"):
        load_model("tiny", load_format="pt")
    with pytest.raises(ValueError, match="unknown dtype"):
        load_model(str(small_model_dir), dtype="fp8")


def test_load_weights_refuses_incomplete_or_foreign_checkpoints(small_model_dir: Path) -> None:
    loaded = load_model(str(small_model_dir))
    weights = [(n, torch.zeros(1)) for n in ["model.layers.0.self_attn.q_proj.weight"]]
    with pytest.raises(ValueError, match="checkpoint shape"):
        loaded.model.load_weights(weights)
    with pytest.raises(KeyError, match="does not belong"):
        loaded.model.load_weights([("model.layers.9.mlp.up_proj.weight", torch.zeros(1))])
    with pytest.raises(ValueError, match="missing"):
        loaded.model.load_weights([("model.norm.weight", torch.ones(64))])
