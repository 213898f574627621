"""The target as hand-written ONNX, with the engine's target contract (export.py: sequence-major cache
inputs, new keys/values out, additive attention bias for trees, explicit positions, logits_to_keep).

Written by hand rather than traced, the graph uses onnxruntime's fused operators (RMSNorm with the residual
add, attention with grouped-query heads, rotary embedding from precomputed tables, so any RoPE scaling
works) and stores every weight in the layout MatMul reads: nothing is transposed at run time, and weight
quantization (MatMulNBits, int8 or int4 blocks, accuracy level 4) applies to every projection and the LM
head. With accuracy level 4 a row's result does not depend on how many rows are computed together, so a
quantized package still decodes losslessly: speculative output equals its own autoregressive output.

Both model families export through one description of the layers (`Layers`): the toolkit's own TargetLM
(fused qkv and gate_up weights, tied embedding) and the converter's HFTarget (separate projections,
optional biases, grouped-query heads, untied head).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .export import target_input_names, target_output_names
from .lookup import HOST_LOOKUP_INPUT
from .onnx_build import MS, Graph, Quant, Stacked, quantize_blocks, rope_tables


@dataclass
class Layer:
    attn_norm: torch.Tensor
    qkv: torch.Tensor | Stacked  # [(H + 2 Hkv) * Dh, D]: q rows, then k, then v
    qkv_bias: torch.Tensor | None
    out: torch.Tensor
    out_bias: torch.Tensor | None
    mlp_norm: torch.Tensor
    gate: torch.Tensor
    up: torch.Tensor
    down: torch.Tensor
    mlp_bias: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None


@dataclass
class Layers:
    vocab: int
    width: int
    heads: int
    kv_heads: int
    head_dim: int
    eps: float
    max_positions: int
    inv_freq: torch.Tensor
    embed: torch.Tensor
    head: torch.Tensor  # the LM head [V, D] (the embedding itself when tied)
    final_norm: torch.Tensor
    layers: list[Layer]


def describe(model) -> Layers:
    """A TargetLM or HFTarget as a Layers description (tensors are the module's own, not copies)."""
    if hasattr(model, "blocks"):
        return _describe_tiny(model)
    return _describe_hf(model)


def _describe_tiny(model) -> Layers:
    cfg = model.cfg
    layers = []
    for b in model.blocks:
        gate, up = b.mlp.gate_up.weight.chunk(2, dim=0)
        layers.append(Layer(b.attn_norm.weight, b.attn.qkv.weight, None, b.attn.out.weight, None, b.mlp_norm.weight,
                            gate, up, b.mlp.down.weight, None))
    inv = 1.0 / (cfg.rope_theta ** (torch.arange(0, cfg.head_dim, 2, dtype=torch.float32) / cfg.head_dim))
    return Layers(cfg.vocab_size, cfg.d_model, cfg.n_heads, cfg.n_heads, cfg.head_dim, cfg.norm_eps, cfg.max_seq_len,
                  inv, model.embed.weight, model.embed.weight, model.final_norm.weight, layers)


def _describe_hf(model) -> Layers:
    cfg = model.cfg
    layers = []
    for layer in model.model.layers:
        a, m = layer.self_attn, layer.mlp
        qkv = Stacked([a.q_proj.weight, a.k_proj.weight, a.v_proj.weight])
        bias = torch.cat([a.q_proj.bias, a.k_proj.bias, a.v_proj.bias]) if a.q_proj.bias is not None else None
        mlp_bias = (m.gate_proj.bias, m.up_proj.bias, m.down_proj.bias) if m.gate_proj.bias is not None else None
        layers.append(Layer(layer.input_layernorm.weight, qkv, bias, a.o_proj.weight, a.o_proj.bias,
                            layer.post_attention_layernorm.weight, m.gate_proj.weight, m.up_proj.weight,
                            m.down_proj.weight, mlp_bias))
    return Layers(cfg.vocab_size, cfg.d_model, cfg.n_heads, cfg.n_kv_heads, cfg.head_dim, cfg.norm_eps, cfg.max_seq_len,
                  model.inv_freq, model.embed.weight, model.head_weight, model.model.norm.weight, layers)


def build_target_graph(desc: Layers, quant: Quant | None = None, host_lookup: bool = False,
                       head_part_bytes: int | None = None) -> Graph:
    """`host_lookup` (quantized, external data): the graph takes `inputs_embeds` and the engine looks rows up
    in the quantized table itself (lookup.py says why). `head_part_bytes` (quantized, external data): the LM
    head is read in row parts of at most that size (Graph.matmul_nbits says why)."""
    n_layers = len(desc.layers)
    names_in = target_input_names(n_layers)
    g = Graph("chimera_target")
    h_kv, dh = desc.kv_heads, desc.head_dim
    g.input("input_ids", "int64", [1, "T"])
    g.input("position_ids", "int64", [1, "T"])
    g.input("attention_bias", "float32", [1, 1, "T", "PT"])
    g.input("logits_to_keep", "int64", [1])
    for name in names_in[4:]:
        g.input(name, "float32", [1, "P", h_kv, dh])
    cos, sin = rope_tables(desc.max_positions, dh, 0.0, inv_freq=desc.inv_freq.float())
    rope = (g.weight("rope.cos", cos), g.weight("rope.sin", sin))
    t = g.op("Shape", "input_ids", start=1, end=2)
    past_len = g.op("Shape", names_in[4], start=1, end=2)
    total = g.op("Cast", g.op("Add", past_len, t), to=6)  # int32, as GroupQueryAttention takes it
    seqlens = g.op("Sub", total, g.const([1], dtype=np.int32))
    total_scalar = g.op("Squeeze", total, g.const([0]))
    room = g.op("ConstantOfShape", g.op("Concat", g.const([1]), t, g.const([h_kv, dh]), axis=0), value=_zero())

    x = _embedding(g, desc, quant, host_lookup)
    pending = None
    for i, layer in enumerate(desc.layers):
        normed, x = g.block_input(pending, x, f"l{i}.attn_norm", layer.attn_norm, desc.eps)
        attn, new_k, new_v = _attention(g, desc, layer, i, normed, (seqlens, total_scalar, room), rope, quant)
        g.output(new_k, f"present.{i}.key", "float32", [1, "T", h_kv, dh])
        g.output(new_v, f"present.{i}.value", "float32", [1, "T", h_kv, dh])
        normed, x = g.add_rms_norm(attn, x, f"l{i}.mlp_norm", layer.mlp_norm, desc.eps)
        pending = _mlp(g, layer, i, normed, quant)
    hidden, _ = g.add_rms_norm(pending, x, "final_norm", desc.final_norm, desc.eps)
    g.output(hidden, "last_hidden_state", "float32", [1, "T", desc.width])
    kept = g.op("Slice", hidden, g.op("Neg", "logits_to_keep"), g.const([2**62]), g.const([1]))
    tied = desc.head is desc.embed
    if quant is None and tied:
        logits = g.op("FusedMatMul", kept, "embed", domain=MS, transB=1)  # tied: no second copy of the table
    elif tied and "embed.q" in g.weights:  # the quantized table serves the lookup and the head alike
        logits = g.matmul_nbits(kept, "embed.q", "embed.scales", desc.width, desc.vocab, quant, head_part_bytes)
    else:
        logits = g.linear(kept, "lm_head", desc.head.detach(), quant, part_bytes=head_part_bytes)
    g.output(logits, "logits", "float32", [1, "K", desc.vocab])
    order = {name: i for i, name in enumerate(target_output_names(n_layers))}
    g.outputs.sort(key=lambda o: order[o.name])  # the contract's order, as the traced export had it
    return g


def _embedding(g: Graph, desc: Layers, quant, host_lookup: bool = False) -> str:
    """Token embeddings [1,T,D]; quantized models look rows up in the quantized table (GatherBlockQuantized,
    the same blocks MatMulNBits reads), so the table is never held in fp32."""
    if quant is None or desc.width % quant.block:
        return g.op("Gather", g.weight("embed", desc.embed.detach()), "input_ids")
    packed, scales = quantize_blocks(desc.embed, quant)
    g.weight("embed.q", packed)
    g.weight("embed.scales", scales)
    if host_lookup:
        return g.input(HOST_LOOKUP_INPUT, "float32", [1, "T", desc.width])
    # The packed table keeps MatMulNBits' [V, blocks, bytes] layout (no second copy of it on disk); only the
    # scales are reshaped for the lookup, which wants them with the data's rank. The lookup reads the
    # table through an alias, so the LM head's prepacking can free the original (Graph.alias).
    scales3 = g.op("Reshape", g.alias("embed.scales.lookup", "embed.scales"), g.const([desc.vocab, packed.shape[1], 1]))
    rows = g.op("GatherBlockQuantized", g.alias("embed.q.lookup", "embed.q"), "input_ids", scales3, domain=MS, bits=quant.bits,
                block_size=quant.block, quantize_axis=3 - 1, gather_axis=0)  # [1,T,blocks,block]
    return g.op("Reshape", rows, g.const([1, -1, desc.width]))


def _attention(g: Graph, desc: Layers, layer: Layer, i: int, x: str, lengths, rope, quant):
    if desc.kv_heads == desc.heads:
        return _attention_mha(g, desc, layer, i, x, rope, quant)
    return _attention_gqa(g, desc, layer, i, x, lengths, rope, quant)


def _attention_mha(g: Graph, desc: Layers, layer: Layer, i: int, x: str, rope, quant):
    """Multi-head attention (as many key/value heads as query heads): the cache and the new rows are
    joined once per layer in the operator's head-major layout, and one fused node attends."""
    h, dh = desc.heads, desc.head_dim
    d = h * dh
    qkv = g.linear(x, f"l{i}.qkv", layer.qkv.detach(), quant, layer.qkv_bias)
    qk, v = g.op("Split", qkv, g.const([2 * d, d]), outputs=2, axis=-1)
    qk = g.op("RotaryEmbedding", qk, "position_ids", *rope, domain=MS, num_heads=2 * h, interleaved=0)
    q, k = g.op("Split", qk, g.const([d, d]), outputs=2, axis=-1)
    heads = g.const([1, -1, h, dh])
    new_k, new_v = g.op("Reshape", k, heads), g.op("Reshape", v, heads)
    keys = g.op("Transpose", g.op("Concat", f"past_key_values.{i}.key", new_k, axis=1), perm=[0, 2, 1, 3])
    values = g.op("Transpose", g.op("Concat", f"past_key_values.{i}.value", new_v, axis=1), perm=[0, 2, 1, 3])
    out = g.op("MultiHeadAttention", q, keys, values, "", "", "attention_bias", domain=MS, num_heads=h)
    return g.linear(out, f"l{i}.out", layer.out.detach(), quant, layer.out_bias), new_k, new_v


def _attention_gqa(g: Graph, desc: Layers, layer: Layer, i: int, x: str, lengths, rope, quant):
    """Grouped-query attention over the cache (fed sequence-major, laid out head-major for the operator)
    and the new tokens; returns the output and the new rotated keys and values [1,T,Hkv,Dh]."""
    h, h_kv, dh = desc.heads, desc.kv_heads, desc.head_dim
    qkv = g.linear(x, f"l{i}.qkv", layer.qkv.detach(), quant, layer.qkv_bias)
    seqlens, total, room = lengths
    # The cache in head-major layout with room for the new rows: the operator then writes them in place
    # (its shared-buffer mode) instead of copying the past into a second, longer buffer.
    past_k = g.op("Transpose", g.op("Concat", f"past_key_values.{i}.key", room, axis=1), perm=[0, 2, 1, 3])
    past_v = g.op("Transpose", g.op("Concat", f"past_key_values.{i}.value", room, axis=1), perm=[0, 2, 1, 3])
    out, present_k, present_v = g.op(
        "GroupQueryAttention", qkv, "", "", past_k, past_v, seqlens, total, *rope, "position_ids", "attention_bias",
        outputs=3, domain=MS, num_heads=h, kv_num_heads=h_kv, do_rotary=1, rotary_interleaved=0)
    new = g.op("Neg", g.op("Shape", "input_ids", start=1, end=2))
    new_k = g.op("Transpose", g.op("Slice", present_k, new, g.const([2**62]), g.const([2])), perm=[0, 2, 1, 3])
    new_v = g.op("Transpose", g.op("Slice", present_v, new, g.const([2**62]), g.const([2])), perm=[0, 2, 1, 3])
    return g.linear(out, f"l{i}.out", layer.out.detach(), quant, layer.out_bias), new_k, new_v


def _zero():
    from onnx import TensorProto, helper

    return helper.make_tensor("value", TensorProto.FLOAT, [1], [0.0])


def _mlp(g: Graph, layer: Layer, i: int, x: str, quant) -> str:
    b = layer.mlp_bias or (None, None, None)
    f = layer.gate.shape[0]
    # Gate and up in one product (one pass over x, one kernel launch), split after.
    both = Stacked([layer.gate, layer.up]) if quant is not None else None
    if both is not None and b[0] is None:
        gate, up = g.op("Split", g.linear(x, f"l{i}.gate_up", both, quant), g.const([f, f]), outputs=2, axis=-1)
    else:
        gate = g.linear(x, f"l{i}.gate", layer.gate.detach(), quant, b[0])
        up = g.linear(x, f"l{i}.up", layer.up.detach(), quant, b[1])
    return g.linear(g.silu_mul(gate, up), f"l{i}.down", layer.down.detach(), quant, b[2])


# Loading packs each part of the LM head while its original bytes are still resident; parts of this size
# bound that overlap (measured on the 0.5B int8 package: the load's peak fell from 749 to 629 MB).
HEAD_PART_BYTES = 16 * 2**20


def host_lookup_applies(desc_width: int, external_data: bool, quant: Quant | None) -> bool:
    """Whether the engine looks embeddings up itself: a quantized table in an external data file."""
    return external_data and quant is not None and desc_width % quant.block == 0


def export_target_graph(model, path: Path, external_data: bool = False, quant: Quant | None = None,
                        head_part_bytes: int | None = None) -> list[Path]:
    with torch.no_grad():
        desc = describe(model)
        host = host_lookup_applies(desc.width, external_data, quant)
        parts = (head_part_bytes or HEAD_PART_BYTES) if external_data and quant is not None else None
        return build_target_graph(desc, quant, host_lookup=host, head_part_bytes=parts).save(path, external_data)
