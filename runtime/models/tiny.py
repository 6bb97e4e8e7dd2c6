"""The embedded default model `tiny`: a seeded random Llama with Mistral-7B's real tokenizer.

No machine of this project reaches a model hub, so lmc writes its own model on first use as an
ordinary Hugging Face directory; loading, tokenizing and chat templating then run the same code
paths as for any real checkpoint. Its weights are random, so its text is gibberish.
"""

from __future__ import annotations

import importlib.resources
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
from transformers import PretrainedConfig

# Bump when anything below changes what gets written: existing caches then rebuild.
TINY_RECIPE_VERSION = 1
TINY_SEED = 0
TINY_CONFIG: dict[str, Any] = {
    "architectures": ["LlamaForCausalLM"],
    "hidden_size": 512,
    "num_hidden_layers": 8,
    "num_attention_heads": 8,
    "num_key_value_heads": 2,
    "intermediate_size": 1408,
    "vocab_size": 32000,
    "max_position_embeddings": 4096,
    "rope_theta": 10000.0,
    "rms_norm_eps": 1e-5,
    "tie_word_embeddings": False,
    "bos_token_id": 1,
    "eos_token_id": 2,
}
# Standard deviations of the random weights by tensor name (default 0.02). Sharper attention
# (larger q/k), stronger residual writes (o/down) and a wider lm_head make the model's greedy text
# vary with its context instead of looping on one token, and spread the top logits well apart,
# so cache bugs change the output and rounding noise does not.
INIT_STD = {"q_proj": 0.1, "k_proj": 0.1, "o_proj": 0.06, "down_proj": 0.06, "lm_head": 0.1}
DEFAULT_STD = 0.02
_MODEL_TYPES = {"LlamaForCausalLM": "llama", "MistralForCausalLM": "mistral", "Qwen2ForCausalLM": "qwen2"}
_RECIPE_FILE = "lmc_recipe.json"


def lmc_home() -> Path:
    """lmc's cache root: `$LMC_HOME`, else `~/.cache/lmc`."""
    return Path(os.environ.get("LMC_HOME") or Path.home() / ".cache" / "lmc")


def tiny_config(**overrides: Any) -> PretrainedConfig:
    """The tiny model's config; overrides (e.g. a smaller hidden size, another architecture)
    make the test variants. The vocabulary must stay 32 000 to match the tokenizer."""
    from transformers import AutoConfig

    fields = {**TINY_CONFIG, **overrides}
    model_type = fields.pop("model_type", None) or _MODEL_TYPES[fields["architectures"][0]]
    return AutoConfig.for_model(model_type, dtype="float32", **fields)


def random_checkpoint(config: PretrainedConfig, seed: int) -> dict[str, torch.Tensor]:
    """Seeded random tensors under Hugging Face names: normal matrices and biases, unit norms.

    Names and shapes come from transformers' own model built on the meta device, so the file is
    exactly what transformers expects; values come from our generator, so they never change with
    transformers' initialisation code.
    """
    from transformers import AutoModelForCausalLM  # modeling and generation: only to build tiny

    with torch.device("meta"):
        reference = AutoModelForCausalLM.from_config(config)
    tied = bool(getattr(config, "tie_word_embeddings", False))
    generator = torch.Generator().manual_seed(seed)
    tensors: dict[str, torch.Tensor] = {}
    for name, param in sorted(reference.state_dict().items()):
        if tied and name == "lm_head.weight":
            continue
        if name.endswith("norm.weight"):
            tensors[name] = torch.ones(param.shape)
        else:
            std = next((v for k, v in INIT_STD.items() if k in name), DEFAULT_STD)
            tensors[name] = torch.randn(param.shape, generator=generator) * std
    return tensors


def _write_tokenizer(path: Path) -> None:
    """Mistral-7B-v0.1's SentencePiece model, loaded the way MODELS.md found to work, plus our
    chat template. BOS is added by encoding (like Mistral's own tokenizer) and written by the
    chat template as text, which `apply_chat_template` encodes without adding another."""
    source = importlib.resources.files("mistral_common").joinpath("data/tokenizer.model.v1")
    with importlib.resources.as_file(source) as sp_model:
        shutil.copyfile(sp_model, path / "tokenizer.model")
    from transformers import LlamaTokenizer

    tokenizer = LlamaTokenizer.from_pretrained(path, add_bos_token=True, add_eos_token=False)
    template = importlib.resources.files("lmc.runtime").joinpath("chat_templates/tiny.jinja")
    tokenizer.chat_template = template.read_text(encoding="utf-8")
    tokenizer.save_pretrained(path)


def build_tiny_model(path: str | Path, seed: int = TINY_SEED, **config_overrides: Any) -> Path:
    """Write a complete Hugging Face model directory at `path` (created if missing)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    config = tiny_config(**config_overrides)
    safetensors.torch.save_file(
        random_checkpoint(config, seed), path / "model.safetensors", metadata={"format": "pt"}
    )
    config.save_pretrained(path)
    _write_tokenizer(path)
    recipe = {"recipe_version": TINY_RECIPE_VERSION, "seed": seed, "overrides": config_overrides}
    (path / _RECIPE_FILE).write_text(json.dumps(recipe, indent=2))
    return path


def _is_current(path: Path) -> bool:
    try:
        recipe = json.loads((path / _RECIPE_FILE).read_text())
    except (OSError, ValueError):
        return False
    return recipe.get("recipe_version") == TINY_RECIPE_VERSION and not recipe.get("overrides")


def tiny_model_dir() -> Path:
    """The default model's directory, built on first use under `lmc_home()/models/tiny`.

    Built in a temporary sibling directory and renamed into place, so a reader never sees a
    half-written model and concurrent first uses are safe (the loser of the rename discards its
    copy). A directory from an older recipe is replaced.
    """
    target = lmc_home() / "models" / "tiny"
    if _is_current(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".tiny-build-", dir=target.parent))
    try:
        build_tiny_model(staging)
        if target.exists() and not _is_current(target):
            stale = Path(tempfile.mkdtemp(prefix=".tiny-stale-", dir=target.parent))
            os.replace(target, stale / "tiny")
            shutil.rmtree(stale, ignore_errors=True)
        os.rename(staging, target)
    except OSError:
        if not _is_current(target):
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
