"""A Llama/Qwen2/Mistral-style decoder, written to compute what transformers computes, with the engine's
export interface (`hidden_cached`, `lm_head`, sequence-major KV cache, additive bias, explicit positions).

Module names follow the Hugging Face checkpoints (`model.layers.{i}.self_attn.q_proj`, ...), so weights
load by name without any renaming; only an untied `lm_head.weight` lands in `head` (`lm_head` is the
method the exporter calls). model.py stays the small from-scratch family; this one reads any size.

Numerics follow transformers' eager path: RoPE rotate-half with inverse frequencies computed the same way
in float32; RMSNorm in float32 then cast back; softmax in float32. Graph inputs and outputs stay float32
even for fp16 weights, so the engine's caches and feeds need not change.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

ARCHITECTURES = {"LlamaForCausalLM": "llama", "Qwen2ForCausalLM": "qwen2", "MistralForCausalLM": "mistral"}
ROPE_TYPES = ("default", "linear", "llama3")


class ConversionError(ValueError):
    """A checkpoint the converter cannot read. The message names the file and the problem."""


@dataclass
class HFTargetConfig:
    architecture: str
    vocab_size: int
    d_model: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    d_ff: int
    norm_eps: float
    max_seq_len: int
    rope_theta: float
    rope: dict = field(default_factory=lambda: {"rope_type": "default"})
    qkv_bias: bool = False
    o_bias: bool = False
    mlp_bias: bool = False
    tie_embeddings: bool = False
    dtype: str = "float32"

    @property
    def family(self) -> str:
        return ARCHITECTURES[self.architecture]

    def to_dict(self) -> dict:
        return asdict(self)


def _rope_parameters(cfg: dict) -> tuple[float, dict]:
    """(theta, scaling) from either the transformers 5 `rope_parameters` or the older rope_theta/rope_scaling."""
    params = dict(cfg.get("rope_parameters") or cfg.get("rope_scaling") or {})
    theta = float(params.get("rope_theta", cfg.get("rope_theta", 10000.0)))
    params["rope_type"] = params.get("rope_type", params.get("type", "default"))
    params.pop("type", None)
    params.pop("rope_theta", None)
    return theta, params


def _sliding_limit(cfg: dict, family: str) -> int | None:
    """The attention window when layers use one. The engine attends fully, so it is exact only inside it."""
    window = cfg.get("sliding_window")
    if family == "qwen2" and not cfg.get("use_sliding_window", False):
        return None
    types = cfg.get("layer_types")
    if types is not None and "sliding_attention" not in types:
        return None
    return int(window) if window else None


def parse_config(cfg: dict, where: str) -> HFTargetConfig:
    """Checks a config.json for what this converter supports and maps it onto HFTargetConfig."""
    arch = (cfg.get("architectures") or ["(none given)"])[0]
    if arch not in ARCHITECTURES:
        raise ConversionError(f"{where}: architecture {arch!r} is not supported; the converter reads "
                              f"{', '.join(ARCHITECTURES)} (Llama-, Qwen2- and Mistral-style decoders)")
    if cfg.get("quantization_config"):
        raise ConversionError(f"{where}: quantized checkpoints are not supported; convert the original "
                              "fp32/fp16/bf16 weights")
    if cfg.get("hidden_act", "silu") != "silu":
        raise ConversionError(f"{where}: hidden_act {cfg['hidden_act']!r} is not supported (only silu)")
    theta, rope = _rope_parameters(cfg)
    if rope["rope_type"] not in ROPE_TYPES:
        raise ConversionError(f"{where}: RoPE scaling type {rope['rope_type']!r} is not supported "
                              f"(supported: {', '.join(ROPE_TYPES)})")
    family = ARCHITECTURES[arch]
    d, heads = int(cfg["hidden_size"]), int(cfg["num_attention_heads"])
    max_len = int(cfg.get("max_position_embeddings", 4096))
    window = _sliding_limit(cfg, family)
    llama_bias = bool(cfg.get("attention_bias", False)) and family == "llama"
    return HFTargetConfig(
        architecture=arch, vocab_size=int(cfg["vocab_size"]), d_model=d, n_layers=int(cfg["num_hidden_layers"]),
        n_heads=heads, n_kv_heads=int(cfg.get("num_key_value_heads") or heads),
        head_dim=int(cfg.get("head_dim") or d // heads), d_ff=int(cfg["intermediate_size"]),
        norm_eps=float(cfg.get("rms_norm_eps", 1e-6)), max_seq_len=min(max_len, window or max_len),
        rope_theta=theta, rope=rope, qkv_bias=family == "qwen2" or llama_bias, o_bias=llama_bias,
        mlp_bias=bool(cfg.get("mlp_bias", False)) and family == "llama",
        tie_embeddings=bool(cfg.get("tie_word_embeddings", False)))


def inverse_frequencies(cfg: HFTargetConfig) -> torch.Tensor:
    """RoPE inverse frequencies, operation for operation as transformers' modeling_rope_utils computes them."""
    dim, base = cfg.head_dim, cfg.rope_theta
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64, device="cpu").float() / dim))
    kind = cfg.rope["rope_type"]
    if kind == "linear":
        return inv_freq / cfg.rope["factor"]
    if kind == "llama3":
        return _llama3_frequencies(inv_freq, cfg.rope)
    return inv_freq


def _llama3_frequencies(inv_freq: torch.Tensor, p: dict) -> torch.Tensor:
    factor, low, high = p["factor"], p["low_freq_factor"], p["high_freq_factor"]
    old_len = p["original_max_position_embeddings"]
    low_wavelen, high_wavelen = old_len / low, old_len / high
    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > low_wavelen, inv_freq / factor, inv_freq)
    smooth = (old_len / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    is_medium = ~(wavelen < high_wavelen) * ~(wavelen > low_wavelen)
    return torch.where(is_medium, smoothed, scaled)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.variance_epsilon = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        x = x.to(torch.float32)
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
        return self.weight * x.to(dtype)


class Attention(nn.Module):
    def __init__(self, cfg: HFTargetConfig):
        super().__init__()
        self.n_heads, self.n_kv, self.head_dim = cfg.n_heads, cfg.n_kv_heads, cfg.head_dim
        self.q_proj = nn.Linear(cfg.d_model, cfg.n_heads * cfg.head_dim, bias=cfg.qkv_bias)
        self.k_proj = nn.Linear(cfg.d_model, cfg.n_kv_heads * cfg.head_dim, bias=cfg.qkv_bias)
        self.v_proj = nn.Linear(cfg.d_model, cfg.n_kv_heads * cfg.head_dim, bias=cfg.qkv_bias)
        self.o_proj = nn.Linear(cfg.n_heads * cfg.head_dim, cfg.d_model, bias=cfg.o_bias)

    def forward(self, x, cos, sin, bias, past_k, past_v):
        """x [B,T,D]; cos/sin [B,T,Dh]; bias [B|1,1,T,P+T]; past [B,P,Hkv,Dh] (float32, sequence-major).
        Returns the output and this block's new rotated keys and values ([B,T,Hkv,Dh], float32)."""
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.n_heads, self.head_dim)
        k = self.k_proj(x).view(b, t, self.n_kv, self.head_dim)
        v = self.v_proj(x).view(b, t, self.n_kv, self.head_dim)
        cos, sin = cos[:, :, None, :], sin[:, :, None, :]
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        keys = torch.cat([past_k.to(k.dtype), k], dim=1)
        values = torch.cat([past_v.to(v.dtype), v], dim=1)
        # Grouped-query attention without copying the cache per query head: query head h reads kv head
        # h // rep (as transformers' repeat_kv does), by broadcasting over a [B, Hkv, rep, ...] view.
        rep = self.n_heads // self.n_kv
        qg = q.view(b, t, self.n_kv, rep, self.head_dim).permute(0, 2, 3, 1, 4)
        kg = keys.permute(0, 2, 1, 3)[:, :, None]
        vg = values.permute(0, 2, 1, 3)[:, :, None]
        scores = (qg @ kg.transpose(-1, -2)) * self.head_dim ** -0.5 + bias[:, :, None].to(q.dtype)
        probs = torch.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
        y = (probs @ vg).permute(0, 3, 1, 2, 4).reshape(b, t, self.n_heads * self.head_dim)
        return self.o_proj(y), k.float(), v.float()


class MLP(nn.Module):
    def __init__(self, cfg: HFTargetConfig):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.d_model, cfg.d_ff, bias=cfg.mlp_bias)
        self.up_proj = nn.Linear(cfg.d_model, cfg.d_ff, bias=cfg.mlp_bias)
        self.down_proj = nn.Linear(cfg.d_ff, cfg.d_model, bias=cfg.mlp_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, cfg: HFTargetConfig):
        super().__init__()
        self.self_attn = Attention(cfg)
        self.mlp = MLP(cfg)
        self.input_layernorm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.post_attention_layernorm = RMSNorm(cfg.d_model, cfg.norm_eps)


class Backbone(nn.Module):
    def __init__(self, cfg: HFTargetConfig):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.layers = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.d_model, cfg.norm_eps)


class HFTarget(nn.Module):
    """The target for export and for draft training: `forward(ids) -> (logits, hidden)` like TargetLM."""

    def __init__(self, cfg: HFTargetConfig):
        super().__init__()
        self.cfg = cfg
        self.model = Backbone(cfg)
        self.head = None if cfg.tie_embeddings else nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        # A plain attribute, not a buffer: it is computed here (never loaded), on the CPU even when the
        # module is built on the meta device, and the exporter records it as a constant.
        self.inv_freq = inverse_frequencies(cfg)

    @property
    def embed(self) -> nn.Embedding:
        return self.model.embed_tokens

    @property
    def head_weight(self) -> torch.Tensor:
        return self.embed.weight if self.head is None else self.head.weight

    def lm_head(self, hidden: torch.Tensor) -> torch.Tensor:
        return (hidden.to(self.head_weight.dtype) @ self.head_weight.T).float()

    def cos_sin(self, position_ids: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        freqs = position_ids.to(torch.float32)[..., None] * self.inv_freq.to(position_ids.device)
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos().to(dtype), emb.sin().to(dtype)

    def hidden_cached(self, input_ids, position_ids, attention_bias, past: list[tuple[torch.Tensor, torch.Tensor]]):
        """last_hidden_state (float32) and each layer's new keys/values for a block on a sequence-major cache."""
        x = self.embed(input_ids)
        cos, sin = self.cos_sin(position_ids, x.dtype)
        new_kv = []
        for layer, (pk, pv) in zip(self.model.layers, past):
            y, k, v = layer.self_attn(layer.input_layernorm(x), cos, sin, attention_bias, pk, pv)
            x = x + y
            x = x + layer.mlp(layer.post_attention_layernorm(x))
            new_kv.append((k, v))
        return self.model.norm(x).float(), new_kv

    def forward(self, input_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Causal pass over whole sequences (draft training). Returns (logits, last_hidden_state)."""
        b, t = input_ids.shape
        dev = input_ids.device
        pos = torch.arange(t, device=dev)[None].expand(b, t)
        bias = torch.triu(torch.full((t, t), float("-inf"), device=dev), diagonal=1)[None, None]
        empty = torch.zeros(b, 0, self.cfg.n_kv_heads, self.cfg.head_dim, device=dev)
        hidden, _ = self.hidden_cached(input_ids, pos, bias, [(empty, empty)] * self.cfg.n_layers)
        return self.lm_head(hidden), hidden
