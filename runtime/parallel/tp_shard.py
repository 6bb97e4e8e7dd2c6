"""Megatron-style tensor-parallel sharding of the Llama model, in place, for one rank.

Rank r of N keeps heads `[r H/N, (r+1) H/N)` of q (their rows of `qkv_proj`, their columns of
`o_proj`) and columns `[r I/N, (r+1) I/N)` of the MLP (gate and up rows, down columns), so each
layer's two output matmuls give partial sums that one all-reduce per matmul adds up
(`sum_over_ranks`). KV heads split the same way when N divides their number; when there are
fewer KV heads than ranks (N a multiple of their number) each rank keeps the one KV head its q
heads read, replicated on N / KV ranks. Embeddings, norms and the LM head stay whole on every
rank, so rank 0 samples from full logits with no gather.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from transformers import PretrainedConfig

from lmc.runtime.models.llama import LlamaForCausalLM


@dataclass(frozen=True)
class RankShard:
    """The heads and MLP columns one rank keeps (all ranges are [first, first + count))."""

    q_head_first: int
    q_heads: int
    kv_head_first: int
    kv_heads: int
    inter_first: int
    inter: int


def rank_shard(config: PretrainedConfig, rank: int, world: int) -> RankShard:
    """What rank `rank` of `world` keeps, or an error naming the sizes that do not split."""
    heads, kv_heads = config.num_attention_heads, config.num_key_value_heads
    inter = config.intermediate_size
    if heads % world:
        raise ValueError(f"--tensor-parallel {world} must divide the model's {heads} attention heads")
    if inter % world:
        raise ValueError(f"--tensor-parallel {world} must divide the model's MLP width {inter}")
    if kv_heads % world == 0:
        kv_count, kv_first = kv_heads // world, rank * (kv_heads // world)
    elif world % kv_heads == 0:  # fewer KV heads than ranks: each rank keeps the one it reads
        kv_count, kv_first = 1, rank * kv_heads // world
    else:
        raise ValueError(f"--tensor-parallel {world} must divide the model's {kv_heads} KV heads or be a "
                         "multiple of them (so that a rank's q heads read whole KV heads)")
    q_count, i_count = heads // world, inter // world
    return RankShard(rank * q_count, q_count, kv_first, kv_count, rank * i_count, i_count)


@torch.no_grad()
def shard_model(model: LlamaForCausalLM, rank: int, world: int, group: dist.ProcessGroup) -> None:
    """Cut `model` (whole weights, identical on every rank) down to rank `rank`'s part."""
    shard = rank_shard(model.config, rank, world)
    d = model.head_dim
    for layer in model.layers:
        attn, mlp = layer.self_attn, layer.mlp
        q_size, kv_size = attn.q_size, attn.kv_size
        q = slice(shard.q_head_first * d, (shard.q_head_first + shard.q_heads) * d)
        k = slice(q_size + shard.kv_head_first * d, q_size + (shard.kv_head_first + shard.kv_heads) * d)
        v = slice(k.start + kv_size, k.stop + kv_size)
        _keep(attn, "qkv_proj", torch.cat([attn.qkv_proj[q], attn.qkv_proj[k], attn.qkv_proj[v]]))
        if attn.qkv_bias is not None:
            _keep(attn, "qkv_bias", torch.cat([attn.qkv_bias[q], attn.qkv_bias[k], attn.qkv_bias[v]]))
        _keep(attn, "o_proj", attn.o_proj[:, q])
        attn.num_heads, attn.num_kv_heads = shard.q_heads, shard.kv_heads
        attn.q_size, attn.kv_size = shard.q_heads * d, shard.kv_heads * d
        attn.tp_group = group

        inter = mlp.down_proj.shape[1]
        cols = slice(shard.inter_first, shard.inter_first + shard.inter)
        up = slice(inter + cols.start, inter + cols.stop)
        _keep(mlp, "gate_up_proj", torch.cat([mlp.gate_up_proj[cols], mlp.gate_up_proj[up]]))
        _keep(mlp, "down_proj", mlp.down_proj[:, cols])
        mlp.tp_group = group
    model.num_kv_heads = shard.kv_heads


def _keep(module: nn.Module, name: str, part: torch.Tensor) -> None:
    """Replace a parameter by its own copy of `part`, so the whole tensor's memory goes."""
    setattr(module, name, nn.Parameter(part.contiguous().clone(), requires_grad=False))
