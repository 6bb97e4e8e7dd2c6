"""Model classes by Hugging Face architecture name (`config.architectures[0]`)."""

from __future__ import annotations

from lmc.runtime.models.llama import Config, LlamaForCausalLM

MODEL_REGISTRY: dict[str, type[LlamaForCausalLM]] = {
    "LlamaForCausalLM": LlamaForCausalLM,
    "MistralForCausalLM": LlamaForCausalLM,
    "Qwen2ForCausalLM": LlamaForCausalLM,
}


def supported_architectures() -> list[str]:
    return sorted(MODEL_REGISTRY)


def model_class_for(config: Config) -> type[LlamaForCausalLM]:
    """The class that runs this config, or an error naming what is supported."""
    architectures = getattr(config, "architectures", None) or []
    if not architectures:
        raise ValueError(
            "config.json has no 'architectures' entry; lmc needs one of "
            f"{supported_architectures()} to pick the model class"
        )
    name = architectures[0]
    if name not in MODEL_REGISTRY:
        raise ValueError(
            f"architecture {name!r} is not supported; lmc runs {supported_architectures()}"
        )
    return MODEL_REGISTRY[name]
