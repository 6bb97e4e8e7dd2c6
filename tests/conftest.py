"""Shared fixtures: a private lmc cache and a small model built once per test session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from lmc.runtime.models.tiny import build_tiny_model

# A few-layer variant of `tiny`: same tokenizer and architecture, built in about a second.
SMALL_MODEL_CONFIG = {
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "intermediate_size": 128,
}


@pytest.fixture(scope="session", autouse=True)
def lmc_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Point LMC_HOME at a fresh directory so no test reads or writes the user's ~/.cache/lmc."""
    home = tmp_path_factory.mktemp("lmc_home")
    previous = os.environ.get("LMC_HOME")
    os.environ["LMC_HOME"] = str(home)
    yield home
    if previous is None:
        del os.environ["LMC_HOME"]
    else:
        os.environ["LMC_HOME"] = previous


@pytest.fixture(scope="session")
def small_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Hugging Face directory of a 2-layer, hidden-64 Llama with the real tiny tokenizer."""
    return build_tiny_model(tmp_path_factory.mktemp("small_model"), **SMALL_MODEL_CONFIG)
