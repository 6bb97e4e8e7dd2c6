"""GGUF loading against transformers' own GGUF loader, one small file per supported type."""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from lmc.runtime.config import EngineConfig
from lmc.runtime.engine import Engine
from lmc.runtime.gguf.dequant import dequantize
from lmc.runtime.model_loader import load_model
from lmc.runtime.request import SamplingParams

HIDDEN, INTER, HEADS, KV_HEADS, LAYERS = 256, 512, 4, 2, 2
T = gguf.GGMLQuantizationType
QUANTIZED = ["Q8_0", "Q4_0", "Q4_1", "Q4_K", "Q5_K", "Q6_K", "F16", "BF16", "F32"]


def _byte_level_vocab() -> tuple[list[str], list[str]]:
    """GPT-2's 256 byte symbols, a few merges, and the ChatML specials."""
    printable = [*range(33, 127), *range(161, 173), *range(174, 256)]
    chars, extra = [], 0
    for b in range(256):
        chars.append(chr(b) if b in printable else chr(256 + extra))
        extra += b not in printable
    merges = ["Ġ t", "h e", "Ġt he", "i n", "Ġ a"]
    tokens = chars + [m.replace(" ", "") for m in merges] + ["<|im_start|>", "<|im_end|>"]
    return tokens, merges


def _quantized_bytes(values: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """`values` in `kind`: the gguf package's quantizers where it has them; K-quants (which it
    only dequantizes) get random blocks with small, finite scales."""
    qtype = getattr(T, kind)
    if kind in ("Q8_0", "Q4_0", "Q4_1", "BF16"):
        return gguf.quants.quantize(values, qtype)
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    rows = values.shape[0]
    raw = rng.integers(0, 256, size=(rows, values.shape[1] // block, size), dtype=np.uint8)
    scale_at = [208] if kind == "Q6_K" else [0, 2]
    for at in scale_at:
        scales = rng.uniform(0.002, 0.01, size=raw.shape[:2]).astype(np.float16)
        raw[:, :, at : at + 2] = scales.view(np.uint8).reshape(*raw.shape[:2], 2)
    return raw.reshape(rows, -1)


def write_gguf(path: Path, kind: str, seed: int = 0) -> Path:
    """A 2-layer Llama with every matrix stored as `kind` (norms as F32)."""
    rng = np.random.default_rng(seed)
    tokens, merges = _byte_level_vocab()
    vocab = len(tokens)
    head_dim = HIDDEN // HEADS
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_block_count(LAYERS)
    writer.add_context_length(512)
    writer.add_embedding_length(HIDDEN)
    writer.add_feed_forward_length(INTER)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(KV_HEADS)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_dimension_count(head_dim)
    writer.add_vocab_size(vocab)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types([1] * (vocab - 2) + [3, 3])
    writer.add_token_merges(merges)
    writer.add_bos_token_id(vocab - 2)
    writer.add_eos_token_id(vocab - 1)
    writer.add_add_bos_token(False)
    writer.add_chat_template("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
                             "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")

    def matrix(name: str, rows: int, cols: int) -> None:
        values = (rng.standard_normal((rows, cols)) * 0.05).astype(np.float32)
        if kind == "F32":
            writer.add_tensor(name, values)
        elif kind == "F16":
            writer.add_tensor(name, values.astype(np.float16))
        else:
            writer.add_tensor(name, _quantized_bytes(values, kind, rng), raw_dtype=getattr(T, kind))

    def norm(name: str) -> None:
        writer.add_tensor(name, (1 + 0.1 * rng.standard_normal(HIDDEN)).astype(np.float32))

    matrix("token_embd.weight", vocab, HIDDEN)
    for i in range(LAYERS):
        norm(f"blk.{i}.attn_norm.weight")
        norm(f"blk.{i}.ffn_norm.weight")
        matrix(f"blk.{i}.attn_q.weight", HIDDEN, HIDDEN)
        matrix(f"blk.{i}.attn_k.weight", KV_HEADS * head_dim, HIDDEN)
        matrix(f"blk.{i}.attn_v.weight", KV_HEADS * head_dim, HIDDEN)
        matrix(f"blk.{i}.attn_output.weight", HIDDEN, HIDDEN)
        matrix(f"blk.{i}.ffn_gate.weight", INTER, HIDDEN)
        matrix(f"blk.{i}.ffn_up.weight", INTER, HIDDEN)
        matrix(f"blk.{i}.ffn_down.weight", HIDDEN, INTER)
    norm("output_norm.weight")
    matrix("output.weight", vocab, HIDDEN)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.mark.parametrize("kind", ["Q8_0", "Q4_0", "Q4_1", "Q4_K", "Q5_K", "Q6_K", "BF16", "F16"])
def test_dequantize_matches_gguf_package(kind: str) -> None:
    rng = np.random.default_rng(1)
    values = rng.standard_normal((4, 512)).astype(np.float32)
    raw = values.astype(np.float16) if kind == "F16" else _quantized_bytes(values, kind, rng)
    expected = gguf.quants.dequantize(raw, getattr(T, kind))
    ours = dequantize(raw, kind, (4, 512), torch.float32).numpy()
    np.testing.assert_array_equal(ours, expected)


@pytest.mark.parametrize("kind", QUANTIZED)
def test_weights_and_logits_equal_transformers_gguf_loading(tmp_path: Path, kind: str) -> None:
    path = write_gguf(tmp_path / f"model-{kind}.gguf", kind)
    reference = AutoModelForCausalLM.from_pretrained(tmp_path, gguf_file=path.name, dtype=torch.float32)
    loaded = load_model(str(path))
    ref_state = reference.state_dict()
    layer = loaded.model.layers[1].self_attn
    q, kv = layer.q_size, layer.kv_size
    torch.testing.assert_close(layer.qkv_proj[:q], ref_state["model.layers.1.self_attn.q_proj.weight"], rtol=0, atol=0)
    torch.testing.assert_close(layer.qkv_proj[q : q + kv], ref_state["model.layers.1.self_attn.k_proj.weight"], rtol=0, atol=0)

    # Greedy continuations compare the whole forward (every tensor, the rotary order of q/k).
    engine = Engine(EngineConfig(model=str(path), kv_cache_tokens=256))
    prompt = [5, 77, 140, 200, 33, 90, 12]
    ours = engine.generate([prompt], SamplingParams(max_tokens=8, ignore_eos=True))[0].output_ids
    expected = reference.generate(torch.tensor([prompt]), max_new_tokens=8, do_sample=False, eos_token_id=None)
    assert list(ours) == expected[0, len(prompt) :].tolist()


def test_tokenizer_round_trips_and_matches_transformers(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "model.gguf", "Q8_0")
    reference = AutoTokenizer.from_pretrained(tmp_path, gguf_file=path.name)
    tokenizer = load_model(str(path)).tokenizer
    for text in ["the heat in a tin", " leading space", "bytes: é ü 漢字 \n\t!", "<|im_start|>user\nhi<|im_end|>"]:
        ids = tokenizer.encode(text)
        assert ids == reference(text, add_special_tokens=False).input_ids
        assert tokenizer.decode_continuation(ids) == text.replace("<|im_start|>", "").replace("<|im_end|>", "")
    assert tokenizer.roles.before["user"] == "<|im_start|>user\n"
