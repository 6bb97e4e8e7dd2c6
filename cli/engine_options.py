"""The engine's knobs as one option group, shared by every command that starts an engine.

`@engine_options` adds the options below to a typer command and hands the command one
`engine: EngineConfig` built from them, so `lmc run` and `lmc serve` spell, document and
validate the engine the same way. Defaults come from `EngineConfig` itself.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Annotated, Any

import typer

from lmc.runtime.config import EngineConfig

_DEFAULT = EngineConfig()
PANEL = "Engine"


def _option(*decls: str, help: str, choices: tuple[str, ...] = (), **kwargs: Any) -> Any:  # noqa: A002
    """A typer option in the engine panel; `choices` lists the values a string option takes."""
    if choices:
        kwargs["metavar"] = "|".join(choices)
        kwargs["callback"] = _one_of(choices)
    return typer.Option(*decls, help=help, rich_help_panel=PANEL, **kwargs)


def _one_of(choices: tuple[str, ...]) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value not in choices:
            raise typer.BadParameter(f"{value!r} is not one of {', '.join(choices)}")
        return value

    return check


def engine_config(
    model: Annotated[str, _option(metavar="NAME|DIR", help="smollm2-135m (default, fetched on first use), 'tiny' (offline, random weights), a preset (with --load-format dummy), a HF directory or a .gguf file.")] = _DEFAULT.model,
    device: Annotated[str, _option(metavar="cpu|cuda", help="cpu or cuda.")] = _DEFAULT.device,
    load_format: Annotated[str, _option(
        "--load-format", help="auto (safetensors) or dummy (random weights).",
        choices=("auto", "dummy"))] = _DEFAULT.load_format,
    dtype: Annotated[str, _option(
        help="Weights and KV dtype; auto is float32 on CPU, bfloat16 on CUDA.",
        choices=("auto", "float32", "float16", "bfloat16"))] = _DEFAULT.dtype,
    seed: Annotated[int, _option(metavar="N", help="Seed for dummy weights and sampled gens.")] = _DEFAULT.seed,
    attention_backend: Annotated[str, _option(
        "--attention-backend", help="auto takes flashinfer, then triton on CUDA, reference elsewhere.",
        choices=("auto", "reference", "triton", "flashinfer"))] = _DEFAULT.attention_backend,
    kv_cache_tokens: Annotated[int | None, _option(
        "--kv-cache-tokens", min=1, metavar="N", help="KV cache size in tokens; wins over the fraction.")] = None,
    kv_cache_fraction: Annotated[float, _option(
        "--kv-cache-fraction", min=0.01, max=1.0, metavar="F",
        help="Share of free device memory for the KV cache.")] = _DEFAULT.kv_cache_fraction,
    max_model_len: Annotated[int | None, _option(
        "--max-model-len", min=1, metavar="N", help="Longest prompt + output (default: the model's own).")] = None,
    max_running_requests: Annotated[int, _option(
        "--max-running-requests", min=1, metavar="N", help="Requests in one batch at most.")] = _DEFAULT.max_running_requests,
    max_batch_tokens: Annotated[int, _option(
        "--max-batch-tokens", min=1, metavar="N", help="Token budget of one forward (decodes + prefills).")] = _DEFAULT.max_batch_tokens,
    chunk_size: Annotated[int, _option(
        "--chunk-size", min=1, metavar="N", help="Longest prefill of one request in one step.")] = _DEFAULT.chunk_size,
    schedule_policy: Annotated[str, _option(
        "--schedule-policy", help="lpm: longest cached prefix first; fcfs: arrival order.",
        choices=("lpm", "fcfs"))] = _DEFAULT.schedule_policy,
    radix_cache: Annotated[bool, _option(
        "--radix-cache/--no-radix-cache", help="Reuse KV across requests.")] = _DEFAULT.enable_radix_cache,
    cuda_graph: Annotated[bool, _option(
        "--cuda-graph/--no-cuda-graph", help="Replay decode steps as CUDA graphs.")] = _DEFAULT.enable_cuda_graph,
    shared_prefix_attention: Annotated[bool, _option(
        "--shared-prefix-attention/--no-shared-prefix-attention",
        help="Triton: read a long cached prefix shared by many rows once per step.")] = _DEFAULT.shared_prefix_attention,
    host_kv_cache_gb: Annotated[float, _option(
        "--host-kv-cache-gb", min=0.0, metavar="GB",
        help="Keep evicted KV in host memory up to this size; 0: off.")] = _DEFAULT.host_kv_cache_gb,
    tensor_parallel: Annotated[int, _option(
        "--tensor-parallel", min=1, metavar="N",
        help="Processes (one per GPU) sharing every layer's heads and MLP.")] = _DEFAULT.tensor_parallel,
) -> EngineConfig:
    """The EngineConfig these option values describe."""
    return EngineConfig(
        model=model, device=device, load_format=load_format, dtype=dtype, seed=seed,
        attention_backend=attention_backend, kv_cache_tokens=kv_cache_tokens,
        kv_cache_fraction=kv_cache_fraction, max_model_len=max_model_len,
        max_running_requests=max_running_requests, max_batch_tokens=max_batch_tokens,
        chunk_size=chunk_size, schedule_policy=schedule_policy, enable_radix_cache=radix_cache,
        enable_cuda_graph=cuda_graph, tensor_parallel=tensor_parallel, host_kv_cache_gb=host_kv_cache_gb,
        shared_prefix_attention=shared_prefix_attention,
    )


_ENGINE_PARAMS = inspect.signature(engine_config, eval_str=True).parameters


def engine_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give `command` the engine options; it receives them as `engine: EngineConfig`."""
    own = inspect.signature(command, eval_str=True)
    if "engine" not in own.parameters:
        raise TypeError(f"{command.__name__} needs an `engine: EngineConfig` parameter")
    clash = set(own.parameters) & set(_ENGINE_PARAMS)
    if clash:
        raise TypeError(f"{command.__name__} already has engine options: {', '.join(sorted(clash))}")
    mine = [p for p in own.parameters.values() if p.name != "engine"]

    @functools.wraps(command)
    def with_engine(**values: Any) -> Any:
        knobs = {name: values.pop(name) for name in _ENGINE_PARAMS}
        return command(**values, engine=engine_config(**knobs))

    params = mine + list(_ENGINE_PARAMS.values())
    with_engine.__signature__ = own.replace(parameters=params)  # type: ignore[attr-defined]
    with_engine.__annotations__ = {p.name: p.annotation for p in params}
    del with_engine.__wrapped__  # typer must read the new signature, not the command's
    return with_engine
