"""GGUF checkpoints: a Hugging Face config, tensors under Hugging Face names, and a tokenizer.

Parsing a GGUF file with the `gguf` package reads every metadata field in Python (seconds for a
49k-token vocabulary), so the first load writes what it learned to a cache directory under
`$LMC_HOME/gguf/`: `index.json` (the config and each tensor's type, shape and byte offset) and
the tokenizer as Hugging Face files (converted from `tokenizer.ggml.*` by transformers, with the
file's `tokenizer.chat_template`). Later loads read that index and memory-map the tensors; the
model's dequantized parameters are cached there too (`weights_cache`): only a first load dequantizes.
A rewritten GGUF (new size or mtime) gets a new cache directory and the old one is removed.

llama.cpp's converter permutes the rows of each head of `attn_q`/`attn_k` for its rotary layout;
`hf_tensors` undoes it, so the tensors are exactly the Hugging Face checkpoint's.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lmc.runtime.gguf.dequant import SUPPORTED_TYPES, dequantize
from lmc.runtime.models.model_config import ModelConfig

INDEX_VERSION = 1
ARCHITECTURE = "llama"  # the GGUF architectures lmc maps (the Llama family's own converter)
_LAYER_NAMES = {
    "attn_norm.weight": "input_layernorm.weight",
    "ffn_norm.weight": "post_attention_layernorm.weight",
    "attn_q.weight": "self_attn.q_proj.weight",
    "attn_k.weight": "self_attn.k_proj.weight",
    "attn_v.weight": "self_attn.v_proj.weight",
    "attn_output.weight": "self_attn.o_proj.weight",
    "ffn_gate.weight": "mlp.gate_proj.weight",
    "ffn_up.weight": "mlp.up_proj.weight",
    "ffn_down.weight": "mlp.down_proj.weight",
}
_TOP_NAMES = {
    "token_embd.weight": "model.embed_tokens.weight",
    "output_norm.weight": "model.norm.weight",
    "output.weight": "lm_head.weight",
}


def hf_name(name: str) -> str:
    """The Hugging Face name of a GGUF tensor name (`blk.3.attn_q.weight` -> `model.layers.3...`)."""
    if name in _TOP_NAMES:
        return _TOP_NAMES[name]
    parts = name.split(".", 2)
    if len(parts) == 3 and parts[0] == "blk" and parts[2] in _LAYER_NAMES:
        return f"model.layers.{parts[1]}.{_LAYER_NAMES[parts[2]]}"
    raise KeyError(f"GGUF tensor {name!r} has no place in a Llama model")


@dataclass(frozen=True)
class TensorEntry:
    """Where one tensor lies in the file; `shape` is row-major (GGUF stores it innermost first)."""

    name: str
    type_name: str
    shape: tuple[int, ...]
    offset: int
    nbytes: int


def find_gguf(path: Path) -> Path | None:
    """`path` itself if it is a .gguf file, the one .gguf inside a directory, else None."""
    if path.is_file() and path.suffix == ".gguf":
        return path
    if path.is_dir():
        files = sorted(path.glob("*.gguf"))
        if len(files) > 1:
            raise ValueError(f"{path} holds {len(files)} .gguf files; pass the one to load")
        return files[0] if files else None
    return None


def _field(reader: Any, key: str, default: Any = None) -> Any:
    field = reader.fields.get(key)
    return default if field is None else field.contents()


def _config_fields(reader: Any, tensor_names: set[str]) -> dict[str, Any]:
    """The Hugging Face LlamaConfig fields that the GGUF metadata determines."""
    arch = _field(reader, "general.architecture")
    if arch != ARCHITECTURE:
        raise ValueError(f"GGUF architecture {arch!r} is not supported; lmc reads {ARCHITECTURE!r} files")
    if _field(reader, f"{arch}.rope.scaling.type") not in (None, "none") or "rope_freqs.weight" in tensor_names:
        raise ValueError("GGUF files with rotary scaling (rope.scaling.*, rope_freqs) are not supported")

    def key(name: str, default: Any = None) -> Any:
        value = _field(reader, f"{arch}.{name}", default)
        if value is None:
            raise ValueError(f"GGUF metadata lacks {arch}.{name}")
        return value

    heads = int(key("attention.head_count"))
    hidden = int(key("embedding_length"))
    tokens = reader.fields["tokenizer.ggml.tokens"]
    fields: dict[str, Any] = {
        "architectures": ["LlamaForCausalLM"],
        "hidden_size": hidden,
        "num_hidden_layers": int(key("block_count")),
        "num_attention_heads": heads,
        "num_key_value_heads": int(key("attention.head_count_kv", heads)),
        "head_dim": int(key("attention.key_length", hidden // heads)),
        "intermediate_size": int(key("feed_forward_length")),
        "max_position_embeddings": int(key("context_length")),
        "rope_theta": float(key("rope.freq_base", 10000.0)),
        "rms_norm_eps": float(key("attention.layer_norm_rms_epsilon")),
        "vocab_size": int(key("vocab_size", len(tokens.data))),
        "tie_word_embeddings": "output.weight" not in tensor_names,
    }
    for name in ("bos", "eos", "padding"):
        value = _field(reader, f"tokenizer.ggml.{name}_token_id")
        if value is not None:
            fields[f"{'pad' if name == 'padding' else name}_token_id"] = int(value)
    return fields


def _read_index(path: Path) -> dict[str, Any]:
    """Parse the file's metadata with the gguf package (the slow part, done once per file)."""
    import gguf

    reader = gguf.GGUFReader(path)
    tensors = []
    for tensor in reader.tensors:
        type_name = tensor.tensor_type.name
        if type_name not in SUPPORTED_TYPES:
            raise ValueError(
                f"{path.name}: tensor {tensor.name} is {type_name}; lmc reads {', '.join(SUPPORTED_TYPES)}"
            )
        shape = [int(n) for n in reversed(tensor.shape.tolist())]
        tensors.append([tensor.name, type_name, shape, int(tensor.data_offset), int(tensor.n_bytes)])
    config = _config_fields(reader, {t[0] for t in tensors})
    return {"version": INDEX_VERSION, "source": str(path.resolve()), "config": config, "tensors": tensors}


def _cache_dir(path: Path) -> Path:
    from lmc.runtime.models.tiny import lmc_home

    stat = path.stat()
    key = hashlib.sha256(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    return lmc_home() / "gguf" / f"{path.stem}-{key}"


def _write_cache(path: Path, target: Path) -> None:
    """Index and tokenizer files, written in a staging directory and renamed into place."""
    from transformers import AutoTokenizer

    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".gguf-", dir=target.parent))
    try:
        index = _read_index(path)
        tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
        tokenizer.save_pretrained(staging)
        (staging / "index.json").write_text(json.dumps(index))
        os.rename(staging, target)
    except OSError:
        if not (target / "index.json").is_file():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _remove_stale(path, target)


def _remove_stale(path: Path, current: Path) -> None:
    """Delete the cache directories of earlier versions of the file at `path` (their weights
    alone can be gigabytes); a process still reading one keeps its open files."""
    source = str(path.resolve())
    for other in current.parent.glob(f"{path.stem}-*"):
        if other == current:
            continue
        try:
            stale = json.loads((other / "index.json").read_text()).get("source") == source
        except (OSError, ValueError):
            continue
        if stale:
            shutil.rmtree(other, ignore_errors=True)


@dataclass(frozen=True)
class GGUFCheckpoint:
    """A GGUF file with its cache directory: the index, Hugging Face tokenizer files, weights."""

    path: Path
    config_fields: dict[str, Any]
    tensors: tuple[TensorEntry, ...]
    cache_dir: Path

    @property
    def tokenizer_dir(self) -> Path:
        return self.cache_dir

    @classmethod
    def open(cls, path: str | Path) -> GGUFCheckpoint:
        path = Path(path)
        cache = _cache_dir(path)
        index_file = cache / "index.json"
        if not index_file.is_file():
            _write_cache(path, cache)
        index = json.loads(index_file.read_text())
        if index.get("version") != INDEX_VERSION:
            shutil.rmtree(cache, ignore_errors=True)
            return cls.open(path)
        entries = tuple(TensorEntry(n, t, tuple(s), o, b) for n, t, s, o, b in index["tensors"])
        return cls(path, index["config"], entries, cache)

    def config(self) -> ModelConfig:
        return ModelConfig.from_fields(self.config_fields)

    def hf_tensors(self, dtype: torch.dtype, device: torch.device) -> Iterator[tuple[str, torch.Tensor]]:
        """Every tensor dequantized to `dtype` on `device`, under its Hugging Face name."""
        data = np.memmap(self.path, dtype=np.uint8, mode="r")
        heads = self.config_fields["num_attention_heads"]
        kv_heads = self.config_fields["num_key_value_heads"]
        for entry in self.tensors:
            raw = data[entry.offset : entry.offset + entry.nbytes]
            tensor = dequantize(raw, entry.type_name, entry.shape, torch.float32)
            if entry.name.endswith("attn_q.weight"):
                tensor = _unpermute_rotary(tensor, heads)
            elif entry.name.endswith("attn_k.weight"):
                tensor = _unpermute_rotary(tensor, kv_heads)
            yield hf_name(entry.name), tensor.to(device=device, dtype=dtype)


def _unpermute_rotary(weight: torch.Tensor, heads: int) -> torch.Tensor:
    """Undo llama.cpp's per-head row order (pairs interleaved) back to Hugging Face's halves."""
    rows = weight.shape[0]
    return weight.reshape(heads, rows // heads // 2, 2, *weight.shape[1:]).transpose(1, 2).reshape(weight.shape)
