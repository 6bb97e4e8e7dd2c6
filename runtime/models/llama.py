"""The Llama family (Llama 2/3, Mistral, Qwen2) as one packed-batch model.

Tokens of all sequences in a step are packed along one dimension; attention is delegated to an
AttentionBackend that reads and writes the paged KV cache. Parameter names follow the Hugging
Face checkpoints except for two fusions: q/k/v become `qkv_proj` and gate/up become
`gate_up_proj`, so each layer runs two large matmuls instead of five small ones.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from transformers import PretrainedConfig

from lmc.kernels.attention import AttentionBackend, AttentionMetadata
from lmc.kernels.ops import RopeParams, apply_rotary, linear, rms_norm, rotary_cos_sin, silu_and_mul
from lmc.runtime.models.model_config import ModelConfig

Config = ModelConfig | PretrainedConfig  # lmc's own (presets, GGUF) or a Hugging Face directory's


def _param(*shape: int, dtype: torch.dtype, device: torch.device) -> nn.Parameter:
    """Uninitialised storage: weights are always loaded or filled afterwards, never used as is."""
    return nn.Parameter(torch.empty(*shape, dtype=dtype, device=device), requires_grad=False)


def sum_over_ranks(x: torch.Tensor, group: dist.ProcessGroup | None) -> torch.Tensor:
    """The sum of a row-sharded matmul's partial outputs over the tensor-parallel ranks (the
    Megatron all-reduce after o_proj and down_proj); one process has nothing to add."""
    if group is not None:
        dist.all_reduce(x, group=group)
    return x


def rope_params_from_config(config: Config, head_dim: int) -> RopeParams:
    """Read rotary settings from either config generation (v5 `rope_parameters`, v4 `rope_scaling`)."""
    params = dict(getattr(config, "rope_parameters", None) or {})
    if not params:
        params = dict(getattr(config, "rope_scaling", None) or {})
        params.setdefault("rope_theta", getattr(config, "rope_theta", 10000.0))
    rope_type = params.pop("rope_type", None) or params.pop("type", None) or "default"
    params.pop("type", None)
    theta = float(params.pop("rope_theta"))
    return RopeParams(head_dim=head_dim, theta=theta, rope_type=rope_type, scaling=params)


class LlamaAttention(nn.Module):
    def __init__(self, config: Config, head_dim: int, dtype: torch.dtype, device: torch.device):
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.num_kv_heads = config.num_key_value_heads
        self.head_dim = head_dim
        self.q_size = self.num_heads * head_dim
        self.kv_size = self.num_kv_heads * head_dim
        self.scale = head_dim**-0.5
        qkv_rows = self.q_size + 2 * self.kv_size
        self.qkv_proj = _param(qkv_rows, config.hidden_size, dtype=dtype, device=device)
        if getattr(config, "attention_bias", False) or getattr(config, "mlp_bias", False):
            raise ValueError("Llama configs with attention_bias or mlp_bias are not supported")
        has_bias = config.model_type == "qwen2"  # Qwen2 always has q/k/v biases, never o_proj's
        self.qkv_bias = _param(qkv_rows, dtype=dtype, device=device) if has_bias else None
        self.o_proj = _param(config.hidden_size, self.q_size, dtype=dtype, device=device)
        self.tp_group: dist.ProcessGroup | None = None  # set by tensor-parallel sharding

    def forward(
        self,
        x: torch.Tensor,
        positions: torch.Tensor,
        cos_sin: torch.Tensor,
        kv_cache: tuple[torch.Tensor, torch.Tensor],
        meta: AttentionMetadata,
        attn: AttentionBackend,
    ) -> torch.Tensor:
        tokens = x.shape[0]
        qkv = linear(x, self.qkv_proj, self.qkv_bias)
        q, k, v = qkv.split([self.q_size, self.kv_size, self.kv_size], dim=-1)
        q = q.view(tokens, self.num_heads, self.head_dim)
        k = k.view(tokens, self.num_kv_heads, self.head_dim)
        v = v.view(tokens, self.num_kv_heads, self.head_dim)
        q, k = apply_rotary(q, k, positions, cos_sin)
        out = attn.forward(q, k, v, kv_cache[0], kv_cache[1], meta, self.scale)
        return sum_over_ranks(linear(out.reshape(tokens, self.q_size), self.o_proj), self.tp_group)


class LlamaMLP(nn.Module):
    def __init__(self, config: Config, dtype: torch.dtype, device: torch.device):
        super().__init__()
        if config.hidden_act != "silu":
            raise ValueError(f"hidden_act {config.hidden_act!r} is not supported; only 'silu' is")
        inter = config.intermediate_size
        self.gate_up_proj = _param(2 * inter, config.hidden_size, dtype=dtype, device=device)
        self.down_proj = _param(config.hidden_size, inter, dtype=dtype, device=device)
        self.tp_group: dist.ProcessGroup | None = None  # set by tensor-parallel sharding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = silu_and_mul(linear(x, self.gate_up_proj))
        return sum_over_ranks(linear(hidden, self.down_proj), self.tp_group)


class LlamaDecoderLayer(nn.Module):
    def __init__(self, config: Config, head_dim: int, dtype: torch.dtype, device: torch.device):
        super().__init__()
        self.eps = config.rms_norm_eps
        self.input_layernorm = _param(config.hidden_size, dtype=dtype, device=device)
        self.self_attn = LlamaAttention(config, head_dim, dtype, device)
        self.post_attention_layernorm = _param(config.hidden_size, dtype=dtype, device=device)
        self.mlp = LlamaMLP(config, dtype, device)

    def forward(
        self,
        hidden: torch.Tensor,
        residual: torch.Tensor | None,
        positions: torch.Tensor,
        cos_sin: torch.Tensor,
        kv_cache: tuple[torch.Tensor, torch.Tensor],
        meta: AttentionMetadata,
        attn: AttentionBackend,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (this layer's output, residual stream before it); the caller adds them."""
        if residual is None:
            residual = hidden
            x = rms_norm(hidden, self.input_layernorm, self.eps)
        else:
            x, residual = rms_norm(hidden, self.input_layernorm, self.eps, residual)
        x = self.self_attn(x, positions, cos_sin, kv_cache, meta, attn)
        x, residual = rms_norm(x, self.post_attention_layernorm, self.eps, residual)
        return self.mlp(x), residual


class LlamaForCausalLM(nn.Module):
    """Llama/Mistral/Qwen2 decoder over a packed batch with a paged KV cache.

    Mistral's sliding window is not applied: results equal the reference only for sequences up to
    `sliding_window` tokens, which the engine enforces through its maximum model length.
    """

    def __init__(self, config: Config, dtype: torch.dtype, device: torch.device):
        super().__init__()
        device = torch.device(device)
        self.config = config
        self.num_layers = config.num_hidden_layers
        self.num_kv_heads = config.num_key_value_heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        self.vocab_size = config.vocab_size
        self.max_position_embeddings = config.max_position_embeddings
        uses_window = getattr(config, "use_sliding_window", True)
        self.sliding_window: int | None = getattr(config, "sliding_window", None) if uses_window else None
        self.eps = config.rms_norm_eps
        self.tie_word_embeddings = bool(getattr(config, "tie_word_embeddings", False))

        self.embed_tokens = _param(config.vocab_size, config.hidden_size, dtype=dtype, device=device)
        self.layers = nn.ModuleList(
            LlamaDecoderLayer(config, self.head_dim, dtype, device) for _ in range(self.num_layers)
        )
        self.norm = _param(config.hidden_size, dtype=dtype, device=device)
        if self.tie_word_embeddings:
            self.lm_head = None
        else:
            self.lm_head = _param(config.vocab_size, config.hidden_size, dtype=dtype, device=device)
        rope = rope_params_from_config(config, self.head_dim)
        self.register_buffer(
            "cos_sin", rotary_cos_sin(rope, config.max_position_embeddings, device), persistent=False
        )

    @torch.inference_mode()
    def forward(
        self,
        input_ids: torch.Tensor,
        positions: torch.Tensor,
        kv_caches: list[tuple[torch.Tensor, torch.Tensor]],
        meta: AttentionMetadata,
        attn: AttentionBackend,
        logits_indices: torch.Tensor,
    ) -> torch.Tensor:
        """Run T packed tokens through all layers; return float32 logits `[N, vocab]` of the rows
        in `logits_indices` only (the last token of each sequence, usually), since the vocabulary
        projection is the largest matmul of a decode step."""
        hidden = F.embedding(input_ids, self.embed_tokens)
        residual: torch.Tensor | None = None
        for layer, kv_cache in zip(self.layers, kv_caches, strict=True):
            hidden, residual = layer(hidden, residual, positions, self.cos_sin, kv_cache, meta, attn)
        hidden = hidden[logits_indices]
        hidden, _ = rms_norm(hidden, self.norm, self.eps, residual[logits_indices])
        head = self.embed_tokens if self.lm_head is None else self.lm_head
        # Like transformers, the projection runs in the model dtype and is widened afterwards.
        return linear(hidden, head).float()

    @torch.no_grad()
    def load_weights(self, weights: Iterable[tuple[str, torch.Tensor]]) -> None:
        """Copy Hugging Face checkpoint tensors in, fusing q/k/v and gate/up on the way.

        Raises if a checkpoint name has no home here or a parameter was never written, so a
        mismatched architecture fails loudly instead of running with uninitialised memory.
        """
        targets = _checkpoint_targets(self)
        written: set[str] = set()
        for name, tensor in weights:
            if name.endswith("rotary_emb.inv_freq") or (name == "lm_head.weight" and self.lm_head is None):
                continue
            if name not in targets:
                raise KeyError(f"checkpoint tensor {name!r} does not belong to {type(self).__name__}")
            param, rows = targets[name]
            dest = param if rows is None else param[rows[0] : rows[1]]
            if dest.shape != tensor.shape:
                raise ValueError(f"{name}: checkpoint shape {tuple(tensor.shape)} != expected {tuple(dest.shape)}")
            dest.copy_(tensor)
            written.add(name)
        missing = sorted(set(targets) - written)
        if missing:
            raise ValueError(f"checkpoint is missing {len(missing)} tensors, e.g. {missing[:3]}")


def _checkpoint_targets(model: LlamaForCausalLM) -> dict[str, tuple[nn.Parameter, tuple[int, int] | None]]:
    """Map each Hugging Face tensor name to (our parameter, its row range inside a fused one)."""
    targets: dict[str, tuple[nn.Parameter, tuple[int, int] | None]] = {
        "model.embed_tokens.weight": (model.embed_tokens, None),
        "model.norm.weight": (model.norm, None),
    }
    if model.lm_head is not None:
        targets["lm_head.weight"] = (model.lm_head, None)
    for i, layer in enumerate(model.layers):
        prefix = f"model.layers.{i}"
        attn, mlp = layer.self_attn, layer.mlp
        q, kv = attn.q_size, attn.kv_size
        qkv_rows = {"q_proj": (0, q), "k_proj": (q, q + kv), "v_proj": (q + kv, q + 2 * kv)}
        for proj, rows in qkv_rows.items():
            targets[f"{prefix}.self_attn.{proj}.weight"] = (attn.qkv_proj, rows)
            if attn.qkv_bias is not None:
                targets[f"{prefix}.self_attn.{proj}.bias"] = (attn.qkv_bias, rows)
        targets[f"{prefix}.self_attn.o_proj.weight"] = (attn.o_proj, None)
        inter = mlp.down_proj.shape[1]
        targets[f"{prefix}.mlp.gate_proj.weight"] = (mlp.gate_up_proj, (0, inter))
        targets[f"{prefix}.mlp.up_proj.weight"] = (mlp.gate_up_proj, (inter, 2 * inter))
        targets[f"{prefix}.mlp.down_proj.weight"] = (mlp.down_proj, None)
        targets[f"{prefix}.input_layernorm.weight"] = (layer.input_layernorm, None)
        targets[f"{prefix}.post_attention_layernorm.weight"] = (layer.post_attention_layernorm, None)
    return targets
