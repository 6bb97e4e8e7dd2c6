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
    """Point LMC_HOME at a fresh directory so no test reads or writes the user's ~/.cache/lmc,
    and keep pip off every index (in this process and its children), so a test that forgets
    `model="tiny"` fails on the default model's pull instead of downloading it."""
    home = tmp_path_factory.mktemp("lmc_home")
    no_wheels = tmp_path_factory.mktemp("no_wheels")
    settings = {"LMC_HOME": str(home), "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(no_wheels),
                "PIP_CONFIG_FILE": os.devnull}
    previous = {key: os.environ.get(key) for key in settings}
    os.environ.update(settings)
    yield home
    for key, value in previous.items():
        if value is None:
            del os.environ[key]
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def small_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Hugging Face directory of a 2-layer, hidden-64 Llama with the real tiny tokenizer."""
    return build_tiny_model(tmp_path_factory.mktemp("small_model"), **SMALL_MODEL_CONFIG)
