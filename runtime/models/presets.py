"""Published model shapes, for running `--load-format dummy` without any checkpoint.

Each entry copies the shape fields of the model's official config.json (hidden size, layers,
heads, KV heads, MLP width, vocabulary, rotary settings, embedding tying), so a dummy run does
exactly the work the real model would.

lmc ships one tokenizer (Mistral-7B's 32 000 ids, the tiny model's), so each preset names the
model whose tokenizer it borrows under "tokenizer". Where the preset's vocabulary is larger (the
Llama-3 and Qwen2 shapes), the engine samples only the tokenizer's ids: the other rows of the
logits are computed, as the real model would, but never chosen.
"""

from __future__ import annotations

from typing import Any

from transformers import PretrainedConfig

from lmc.runtime.models.model_config import ModelConfig

_LLAMA3_ROPE_SCALING = {
    "rope_type": "llama3",
    "factor": 32.0,
    "low_freq_factor": 1.0,
    "high_freq_factor": 4.0,
    "original_max_position_embeddings": 8192,
}

PRESETS: dict[str, dict[str, Any]] = {
    "llama-2-7b": {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
        "num_key_value_heads": 32, "intermediate_size": 11008, "vocab_size": 32000,
        "rope_theta": 10000.0, "max_position_embeddings": 4096, "rms_norm_eps": 1e-5,
        "tie_word_embeddings": False, "bos_token_id": 1, "eos_token_id": 2, "tokenizer": "tiny",
    },
    "llama-3-8b": {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
        "num_key_value_heads": 8, "intermediate_size": 14336, "vocab_size": 128256,
        "rope_theta": 500000.0, "max_position_embeddings": 8192, "rms_norm_eps": 1e-5,
        "tie_word_embeddings": False, "bos_token_id": 128000, "eos_token_id": 128001, "tokenizer": "tiny",
    },
    "llama-3.1-8b": {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
        "num_key_value_heads": 8, "intermediate_size": 14336, "vocab_size": 128256,
        "rope_theta": 500000.0, "rope_scaling": {**_LLAMA3_ROPE_SCALING, "factor": 8.0},
        "max_position_embeddings": 131072, "rms_norm_eps": 1e-5,
        "tie_word_embeddings": False, "bos_token_id": 128000, "eos_token_id": 128001, "tokenizer": "tiny",
    },
    "llama-3.2-1b": {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "hidden_size": 2048, "num_hidden_layers": 16, "num_attention_heads": 32,
        "num_key_value_heads": 8, "head_dim": 64, "intermediate_size": 8192, "vocab_size": 128256,
        "rope_theta": 500000.0, "rope_scaling": dict(_LLAMA3_ROPE_SCALING),
        "max_position_embeddings": 131072, "rms_norm_eps": 1e-5,
        "tie_word_embeddings": True, "bos_token_id": 128000, "eos_token_id": 128001, "tokenizer": "tiny",
    },
    "mistral-7b": {  # Mistral-7B-v0.1, whose tokenizer is the one lmc ships
        "architectures": ["MistralForCausalLM"], "model_type": "mistral",
        "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
        "num_key_value_heads": 8, "intermediate_size": 14336, "vocab_size": 32000,
        "rope_theta": 10000.0, "max_position_embeddings": 32768, "sliding_window": 4096,
        "rms_norm_eps": 1e-5, "tie_word_embeddings": False, "bos_token_id": 1, "eos_token_id": 2, "tokenizer": "tiny",
    },
    "qwen2.5-0.5b": {
        "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2",
        "hidden_size": 896, "num_hidden_layers": 24, "num_attention_heads": 14,
        "num_key_value_heads": 2, "intermediate_size": 4864, "vocab_size": 151936,
        "rope_theta": 1000000.0, "max_position_embeddings": 32768, "rms_norm_eps": 1e-6,
        "use_sliding_window": False, "tie_word_embeddings": True,
        "bos_token_id": 151643, "eos_token_id": 151643, "tokenizer": "tiny",
    },
    "qwen2.5-7b": {
        "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2",
        "hidden_size": 3584, "num_hidden_layers": 28, "num_attention_heads": 28,
        "num_key_value_heads": 4, "intermediate_size": 18944, "vocab_size": 152064,
        "rope_theta": 1000000.0, "max_position_embeddings": 131072, "rms_norm_eps": 1e-6,
        "use_sliding_window": False, "tie_word_embeddings": False,
        "bos_token_id": 151643, "eos_token_id": 151643, "tokenizer": "tiny",
    },
}


def preset_names() -> list[str]:
    return sorted(PRESETS)


def is_preset(name: str) -> bool:
    return name in PRESETS


def _fields(name: str) -> dict[str, Any]:
    if name not in PRESETS:
        raise ValueError(f"unknown model preset {name!r}; presets are {preset_names()}")
    return PRESETS[name]


def preset_tokenizer(name: str) -> str:
    """The model (a name `load_model` knows) whose tokenizer the preset borrows."""
    return _fields(name)["tokenizer"]


def preset_config(name: str, **overrides: Any) -> PretrainedConfig:
    """The Hugging Face config of a named preset (for transformers baselines); `overrides`
    shrink it for tests."""
    from transformers import AutoConfig

    fields = {**_fields(name), **overrides}
    del fields["tokenizer"]
    return AutoConfig.for_model(fields.pop("model_type"), **fields)


def preset_model_config(name: str) -> ModelConfig:
    """The preset as lmc's model reads it, built without importing transformers' config classes."""
    fields = dict(_fields(name))
    del fields["tokenizer"]
    return ModelConfig.from_fields(fields)
