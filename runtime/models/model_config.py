"""The shape of a Llama-family model as lmc's model class reads it, without transformers' config.

Importing transformers' `LlamaConfig` pulls in its activations, kernel hub and distributed
modules (1.5 s of a 2-core box's start-up), only to hold a dozen numbers. Presets and GGUF
checkpoints, whose fields lmc writes itself, build this dataclass instead; a Hugging Face
directory keeps transformers' own config class, which has the same attribute names.
Defaults are those of transformers' `LlamaConfig`; Mistral's sliding window and Qwen2's
`use_sliding_window=False` are given explicitly by the presets that need them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class ModelConfig:
    architectures: tuple[str, ...]
    model_type: str
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    intermediate_size: int
    vocab_size: int
    max_position_embeddings: int
    rms_norm_eps: float
    rope_theta: float = 10000.0
    rope_scaling: dict[str, Any] | None = None
    head_dim: int | None = None  # None: hidden_size // num_attention_heads
    tie_word_embeddings: bool = False
    hidden_act: str = "silu"
    attention_bias: bool = False
    mlp_bias: bool = False
    sliding_window: int | None = None
    use_sliding_window: bool = True
    bos_token_id: int | None = None
    eos_token_id: int | list[int] | None = None
    pad_token_id: int | None = None

    @classmethod
    def from_fields(cls, values: dict[str, Any]) -> ModelConfig:
        """A config from config.json-style fields; a field lmc does not know is an error, so a
        preset or GGUF mapping cannot set something the model would silently ignore."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"model config fields {unknown} are not read by lmc's Llama model; known: {sorted(known)}")
        values = dict(values)
        values["architectures"] = tuple(values["architectures"])
        values.setdefault("model_type", "llama")
        return cls(**values)
