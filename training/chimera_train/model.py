"""The target model: a decoder-only transformer (pre-norm RMSNorm, RoPE, SwiGLU, tied embeddings).

One module serves training (causal, full sequences) and export (KV cache in sequence-major layout,
an additive attention bias that can carry a tree mask, explicit position ids, only new keys/values out).
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class TargetConfig:
    vocab_size: int = 8192
    d_model: int = 320
    n_layers: int = 6
    n_heads: int = 5
    d_ff: int = 864
    max_seq_len: int = 1024
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    def to_dict(self) -> dict:
        return asdict(self)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_cos_sin(position_ids: torch.Tensor, head_dim: int, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin of shape [B, T, head_dim/2] for the given integer positions."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    angles = position_ids.to(torch.float32)[..., None] * inv_freq
    return angles.cos(), angles.sin()


# Exported graphs run with batch 1. With a static batch the traced graph reshapes with constant shapes
# (1, -1, ...) instead of computing them from runtime shapes: the tracer records every `.shape` read
# as ONNX Shape/Gather/Unsqueeze/Concat nodes, and on a CPU each node costs microseconds per step.
_STATIC_BATCH: list[bool] = [False]


@contextmanager
def static_batch():
    _STATIC_BATCH[0] = True
    try:
        yield
    finally:
        _STATIC_BATCH[0] = False


def split_last(x: torch.Tensor, *sizes: int) -> torch.Tensor:
    """[B, T, prod(sizes)] -> [B, T, *sizes]."""
    if _STATIC_BATCH[0]:
        return x.view(1, -1, *sizes)
    return x.view(x.shape[0], x.shape[1], *sizes)


def merge_last(x: torch.Tensor, size: int) -> torch.Tensor:
    """[B, T, ...] -> [B, T, size]."""
    if _STATIC_BATCH[0]:
        return x.reshape(1, -1, size)
    return x.reshape(x.shape[0], x.shape[1], size)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """x: [B, T, H, Dh], rotating pairs (first half, second half) as in GPT-NeoX / Llama."""
    x1, x2 = x.chunk(2, dim=-1)
    cos, sin = cos.unsqueeze(2), sin.unsqueeze(2)
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


class Attention(nn.Module):
    def __init__(self, cfg: TargetConfig):
        super().__init__()
        self.n_heads, self.head_dim = cfg.n_heads, cfg.head_dim
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model, bias=False)
        self.out = nn.Linear(cfg.d_model, cfg.d_model, bias=False)

    def project(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor):
        q, k, v = split_last(self.qkv(x), 3, self.n_heads, self.head_dim).unbind(2)
        return apply_rope(q, cos, sin), apply_rope(k, cos, sin), v

    def forward_causal(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        q, k, v = self.project(x, cos, sin)
        y = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True)
        return self.out(merge_last(y.transpose(1, 2), self.n_heads * self.head_dim))

    def forward_cached(self, x, cos, sin, bias, past_k, past_v):
        """past_k/past_v: [B, P, H, Dh]; bias: [B, 1, T, P+T] additive. Returns output and the new k, v."""
        q, k, v = self.project(x, cos, sin)
        keys = torch.cat([past_k, k], dim=1).transpose(1, 2)
        values = torch.cat([past_v, v], dim=1).transpose(1, 2)
        scores = q.transpose(1, 2) @ keys.transpose(-1, -2) / math.sqrt(self.head_dim) + bias
        y = torch.softmax(scores, dim=-1) @ values
        return self.out(merge_last(y.transpose(1, 2), self.n_heads * self.head_dim)), k, v


class MLP(nn.Module):
    def __init__(self, cfg: TargetConfig):
        super().__init__()
        self.gate_up = nn.Linear(cfg.d_model, 2 * cfg.d_ff, bias=False)
        self.down = nn.Linear(cfg.d_ff, cfg.d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_up(x).chunk(2, dim=-1)
        return self.down(F.silu(gate) * up)


class Block(nn.Module):
    def __init__(self, cfg: TargetConfig):
        super().__init__()
        self.attn_norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.attn = Attention(cfg)
        self.mlp_norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.mlp = MLP(cfg)


class TargetLM(nn.Module):
    def __init__(self, cfg: TargetConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.final_norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.apply(self._init)
        for block in self.blocks:  # scaled residual init (GPT-2) keeps deep stacks stable
            nn.init.normal_(block.attn.out.weight, std=0.02 / math.sqrt(2 * cfg.n_layers))
            nn.init.normal_(block.mlp.down.weight, std=0.02 / math.sqrt(2 * cfg.n_layers))

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)

    def lm_head(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden @ self.embed.weight.T

    def forward(self, input_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Training path: causal over the whole sequence. Returns (logits, last_hidden_state)."""
        b, t = input_ids.shape
        pos = torch.arange(t, device=input_ids.device)[None].expand(b, t)
        cos, sin = rope_cos_sin(pos, self.cfg.head_dim, self.cfg.rope_theta)
        x = self.embed(input_ids)
        for block in self.blocks:
            x = x + block.attn.forward_causal(block.attn_norm(x), cos, sin)
            x = x + block.mlp(block.mlp_norm(x))
        hidden = self.final_norm(x)
        return self.lm_head(hidden), hidden

    def forward_cached(self, input_ids, position_ids, attention_bias, past: list[tuple[torch.Tensor, torch.Tensor]]):
        """Returns logits, last_hidden_state and [(new_k, new_v)] per layer ([B, T, H, Dh])."""
        hidden, new_kv = self.hidden_cached(input_ids, position_ids, attention_bias, past)
        return self.lm_head(hidden), hidden, new_kv

    def hidden_cached(self, input_ids, position_ids, attention_bias, past: list[tuple[torch.Tensor, torch.Tensor]]):
        """Export path: last_hidden_state and the new keys/values, for a block on a sequence-major cache."""
        cos, sin = rope_cos_sin(position_ids, self.cfg.head_dim, self.cfg.rope_theta)
        x = self.embed(input_ids)
        new_kv = []
        for block, (pk, pv) in zip(self.blocks, past):
            y, k, v = block.attn.forward_cached(block.attn_norm(x), cos, sin, attention_bias, pk, pv)
            x = x + y
            x = x + block.mlp(block.mlp_norm(x))
            new_kv.append((k, v))
        return self.final_norm(x), new_kv


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
