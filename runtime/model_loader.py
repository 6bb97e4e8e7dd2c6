"""Turn a model name into a ready model: config, weights on the device, and tokenizer.

A model is "tiny" (built on first use), a preset name (shape only: `load_format="dummy"`), a
local Hugging Face directory, or a GGUF file (or a directory holding one). Dummy weights are seeded random values generated directly on the
target device, so an 8B-parameter benchmark never stages its weights in host memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from transformers import PretrainedConfig

from lmc.runtime.gguf import weights_cache
from lmc.runtime.gguf.checkpoint import GGUFCheckpoint, find_gguf
from lmc.runtime.models import model_class_for
from lmc.runtime.models.hub import is_pullable
from lmc.runtime.models.hub import model_path as pulled_model_path
from lmc.runtime.models.llama import LlamaForCausalLM
from lmc.runtime.models.model_config import ModelConfig
from lmc.runtime.models.presets import (
    is_preset,
    preset_model_config,
    preset_names,
    preset_tokenizer,
)
from lmc.runtime.models.tiny import tiny_model_dir
from lmc.runtime.tokenizer import Tokenizer

LOAD_FORMATS = ("auto", "dummy")
DUMMY_STD = 0.02


@dataclass
class LoadedModel:
    """Everything the engine needs about its model; `model_dir` is None for presets."""

    model: LlamaForCausalLM
    config: ModelConfig | PretrainedConfig  # lmc's own for presets and GGUF files
    tokenizer: Tokenizer
    model_dir: Path | None
    dtype: torch.dtype
    device: torch.device


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """ "auto" is float32 on CPU (bfloat16 matmuls are slow there) and bfloat16 on GPUs."""
    if dtype == "auto":
        return torch.float32 if device.type == "cpu" else torch.bfloat16
    choices = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
    if dtype not in choices:
        raise ValueError(f"unknown dtype {dtype!r}; choose 'auto' or one of {list(choices)}")
    return choices[dtype]


def resolve_model_dir(model: str) -> Path:
    """The directory of "tiny", the GGUF of a pullable model (fetched on first use), or a local
    directory or .gguf file, with errors that say what is missing."""
    if model == "tiny":
        return tiny_model_dir()
    if is_pullable(model):
        return pulled_model_path(model)
    path = Path(model).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return path
    if not path.is_dir():
        raise FileNotFoundError(
            f"model {model!r} is neither 'tiny', a preset ({', '.join(preset_names())}) nor an "
            "existing directory or .gguf file; lmc loads models from local Hugging Face directories and GGUF files only"
        )
    if not (path / "config.json").is_file() and not any(path.glob("*.gguf")):
        raise FileNotFoundError(
            f"{path} has neither a config.json nor a .gguf file; is it a Hugging Face model directory?"
        )
    return path


def safetensors_files(model_dir: Path) -> list[Path]:
    """The checkpoint shards, checked before any memory is allocated for the model."""
    files = sorted(model_dir.glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(
            f"{model_dir} has no *.safetensors files (lmc does not read .bin/.pt checkpoints); "
            "convert the checkpoint or pass load_format='dummy' for random weights"
        )
    return files


def iter_safetensors(files: list[Path], device: torch.device) -> Iterator[tuple[str, torch.Tensor]]:
    """Every tensor of every shard, read straight onto the device."""
    for file in files:
        with safe_open(file, framework="pt", device=str(device)) as reader:
            for name in reader.keys():  # noqa: SIM118 (safe_open is not iterable)
                yield name, reader.get_tensor(name)


@torch.no_grad()
def fill_dummy_weights(model: LlamaForCausalLM, seed: int) -> None:
    """Seeded N(0, 0.02) weights, unit norm scales; generated on the parameters' own device."""
    device = next(model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(seed)
    for name, param in model.named_parameters():
        if name == "norm" or name.endswith("layernorm"):
            param.fill_(1.0)
        else:
            param.normal_(0.0, DUMMY_STD, generator=generator)


def load_model(
    model: str, load_format: str = "auto", dtype: str = "auto", device: str = "cpu", seed: int = 0
) -> LoadedModel:
    """Build the model named `model` on `device`, with real or dummy weights.

    Presets have no tokenizer files of their own: they borrow the one their entry names (see
    `presets`); the engine samples only ids that tokenizer has.
    """
    if load_format not in LOAD_FORMATS:
        raise ValueError(f"unknown load_format {load_format!r}; choose one of {list(LOAD_FORMATS)}")
    torch_device = torch.device(device)
    torch_dtype = resolve_dtype(dtype, torch_device)
    if is_preset(model):
        if load_format != "dummy":
            raise ValueError(
                f"{model!r} is a preset shape without weights; pass load_format='dummy' for random "
                "weights, or give the path of a Hugging Face directory"
            )
        model_dir, config = None, preset_model_config(model)
    else:
        model_dir = resolve_model_dir(model)
        gguf_file = None if (model_dir / "config.json").is_file() else find_gguf(model_dir)
        if gguf_file is not None:
            return _load_gguf(gguf_file, load_format, torch_dtype, torch_device, seed)
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(model_dir)
    model_class = model_class_for(config)
    shards = safetensors_files(model_dir) if load_format == "auto" else []
    tokenizer_dir = resolve_model_dir(preset_tokenizer(model)) if model_dir is None else model_dir
    tokenizer = Tokenizer.from_dir(tokenizer_dir)
    network = model_class(config, torch_dtype, torch_device)
    if load_format == "dummy":
        fill_dummy_weights(network, seed)
    else:
        network.load_weights(iter_safetensors(shards, torch_device))
    network.eval()
    return LoadedModel(network, config, tokenizer, model_dir, torch_dtype, torch_device)


def _load_gguf(
    path: Path, load_format: str, dtype: torch.dtype, device: torch.device, seed: int
) -> LoadedModel:
    """A GGUF checkpoint: config and tokenizer from its metadata, weights dequantized to `dtype`
    on the first load and read from the checkpoint's weights cache afterwards."""
    checkpoint = GGUFCheckpoint.open(path)
    config = checkpoint.config()
    tokenizer = Tokenizer.from_dir(checkpoint.tokenizer_dir)
    network = model_class_for(config)(config, dtype, device)
    if load_format == "dummy":
        fill_dummy_weights(network, seed)
    elif not weights_cache.load_into(network, checkpoint.cache_dir, dtype):
        network.load_weights(checkpoint.hf_tensors(dtype, device))
        weights_cache.save(network, checkpoint.cache_dir, dtype)
    network.eval()
    return LoadedModel(network, config, tokenizer, path, dtype, device)
