"""lmc's own ModelConfig builds the same model as transformers' config classes for every preset."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lmc.runtime.model_loader import load_model
from lmc.runtime.models import presets
from lmc.runtime.models.llama import LlamaForCausalLM, rope_params_from_config
from lmc.runtime.models.model_config import ModelConfig
from tests.runtime.test_gguf import write_gguf


@pytest.mark.parametrize("name", presets.preset_names())
def test_preset_model_config_builds_what_transformers_config_builds(name: str) -> None:
    ours = LlamaForCausalLM(presets.preset_model_config(name), torch.bfloat16, torch.device("meta"))
    theirs = LlamaForCausalLM(presets.preset_config(name), torch.bfloat16, torch.device("meta"))
    assert rope_params_from_config(ours.config, ours.head_dim) == rope_params_from_config(theirs.config, theirs.head_dim)
    assert [(n, p.shape) for n, p in ours.named_parameters()] == [(n, p.shape) for n, p in theirs.named_parameters()]
    for field in ("head_dim", "sliding_window", "eps", "tie_word_embeddings", "max_position_embeddings", "vocab_size"):
        assert getattr(ours, field) == getattr(theirs, field), field
    assert ours.config.eos_token_id == theirs.config.eos_token_id


def test_an_unknown_field_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="rope_freq_scale"):
        ModelConfig.from_fields({"architectures": ["LlamaForCausalLM"], "rope_freq_scale": 2.0})


def test_a_cached_gguf_load_does_not_import_transformers_config_classes(tmp_path: Path) -> None:
    """Importing LlamaConfig costs 1.5 s of start-up (transformers' activations, kernel hub and
    distributed modules); a GGUF whose index is cached never needs it."""
    path = write_gguf(tmp_path / "model.gguf", "Q8_0")
    load_model(str(path))  # the first load writes the index and tokenizer (through transformers)
    code = ("import sys; from lmc.runtime.model_loader import load_model; "
            "from lmc.runtime.models.model_config import ModelConfig; "
            f"loaded = load_model({str(path)!r}); assert isinstance(loaded.config, ModelConfig); "
            "print(sorted(m for m in sys.modules if m.startswith('transformers.models.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "transformers.models.llama" not in out and "configuration_auto" not in out, out
