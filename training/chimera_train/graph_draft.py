"""The Chimera draft as a hand-written ONNX graph (the engine's draft contract, export.py's DRAFT_INPUTS and
DRAFT_OUTPUTS), computing what ChimeraDraft.forward_draft computes.

The draft runs on most decoding steps, so its cost is paid per step: the traced graph had 901 nodes and took
about half an autoregressive step of the target. Here each chain step is some forty fused nodes, its
weights may be stored as int8 blocks (a draft only proposes; the target verifies every token, so the
draft's precision changes acceptance, never the output), its scaled query and the chain's keys are laid out
so that nothing is transposed per step, and the chain length and the shortlist can be cut at export.
"""
from __future__ import annotations

import math

import torch

from .draft import ChimeraDraft
from .onnx_build import MS, Graph, Quant, rope_tables

INT_MAX = 2**62


def build_draft_graph(draft: ChimeraDraft, *, capacity: int, n_steps: int | None = None,
                      shortlist: torch.Tensor | None = None, quant: Quant | None = None) -> Graph:
    """`n_steps` (default all heads) keeps the first heads; `shortlist` (ids, a subset of what the draft was
    trained on) narrows the candidate vocabulary; `capacity` is the longest context the graph serves."""
    cfg = draft.cfg
    steps = n_steps or cfg.n_steps
    if not 1 <= steps <= cfg.n_steps:
        raise ValueError(f"n_steps must be between 1 and {cfg.n_steps}")
    d, h, dh = cfg.d_model, cfg.n_heads, cfg.head_dim
    g = Graph("chimera_draft")
    hidden = g.input("hidden_states", "float32", [1, "N", d])
    past_k = g.input("past_context.key", "float32", [1, "P", h, dh])
    past_v = g.input("past_context.value", "float32", [1, "P", h, dh])
    tokens = g.input("tokens", "int64", [1, 3])
    # The engine may pass only a window of the context (the draft was trained on windows of a few hundred
    # tokens); rotary positions stay absolute: the window's first row sits at position_offset.
    offset = g.input("position_offset", "int64", [1])
    cos, sin = rope_tables(capacity + steps + 1, dh, cfg.rope_theta)  # positions are bounded by the target's context
    rope = (g.weight("rope.cos", cos), g.weight("rope.sin", sin))

    p = g.op("Gather", g.op("Shape", past_k), g.const([1]))  # [1]
    n = g.op("Gather", g.op("Shape", hidden), g.const([1]))
    length = g.op("Add", p, n)  # context rows this call attends to, [1]
    first_new = g.op("Add", offset, p)  # absolute position of the first new context row
    start = g.op("Add", first_new, n)  # absolute position of the first chain step
    ctx = _context(g, draft, hidden, first_new, start, length, rope, quant)
    g.output(ctx["key"], "present_context.key", "float32", [1, "N", h, dh])
    g.output(ctx["value"], "present_context.value", "float32", [1, "N", h, dh])
    anchor = g.op("Slice", hidden, g.const([-1]), g.const([INT_MAX]), g.const([1]))  # [1,1,D]

    head, ids_table = _head_rows(draft, shortlist)
    g.weight("shortlist", ids_table)
    embed = g.weight("embed", draft.embed.weight.detach())
    trigram = g.op("Reshape", tokens, g.const([3]))
    chain_k = chain_v = None
    ids_out, lp_out = [], []
    for k in range(steps):
        pos = g.op("Reshape", g.op("Add", start, g.const([k])), g.const([1, 1]))
        x = _trigram(g, draft, embed, trigram, quant, k)
        y, chain_k, chain_v = _attend(g, draft, x, pos, ctx, chain_k, chain_v, rope, quant, k)
        out = _block_out(g, draft, x, y, quant, k)
        ids, logp = _head(g, draft, out, anchor, head, k, quant)
        ids_out.append(ids)
        lp_out.append(logp)
        first = g.op("Reshape", g.op("Slice", ids, g.const([0]), g.const([1]), g.const([2])), g.const([1]))
        trigram = g.op("Concat", g.op("Slice", trigram, g.const([1]), g.const([3]), g.const([0])), first, axis=0)
    g.output(g.op("Concat", *ids_out, axis=1) if steps > 1 else ids_out[0], "draft_tokens", "int64", [1, steps, cfg.top_k])
    g.output(g.op("Concat", *lp_out, axis=1) if steps > 1 else lp_out[0], "draft_logprobs", "float32", [1, steps, cfg.top_k])
    return g


def _head_rows(draft: ChimeraDraft, shortlist: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    ids = draft.shortlist if shortlist is None else shortlist.to(torch.int64)
    if shortlist is not None and not torch.isin(ids, draft.shortlist).all():
        raise ValueError("the export shortlist must be a subset of the ids the draft was trained on")
    weight = draft.embed.weight if draft.lm_head is None else draft.lm_head.weight
    return weight.detach()[ids].to(torch.float32), ids


def _context(g: Graph, draft: ChimeraDraft, hidden: str, p: str, end: str, length: str, rope, quant) -> dict:
    """The new context keys/values (returned for the cache) and the whole context, laid out once per call
    as K^T [1,H,Dh,P+N] and V [1,H,P+N,Dh] for the chain steps' attention."""
    cfg = draft.cfg
    h, dh = cfg.n_heads, cfg.head_dim
    normed = g.rms_norm(hidden, "ctx_norm", draft.ctx_norm.weight, cfg.norm_eps)
    kv = g.linear(normed, "ctx_kv", draft.ctx_kv.weight, quant)
    k_raw, v = g.op("Split", kv, g.const([cfg.d_model, cfg.d_model]), outputs=2, axis=-1)
    positions = g.op("Unsqueeze", g.op("Range", g.op("Squeeze", p, g.const([0])), g.op("Squeeze", end, g.const([0])),
                                       g.const(1)), g.const([0]))
    k = g.op("RotaryEmbedding", k_raw, positions, *rope, domain=MS, num_heads=h, interleaved=0)
    new_k = g.op("Reshape", k, g.const([1, -1, h, dh]))
    new_v = g.op("Reshape", v, g.const([1, -1, h, dh]))
    all_k = g.op("Concat", "past_context.key", new_k, axis=1)
    all_v = g.op("Concat", "past_context.value", new_v, axis=1)
    return {"key": new_k, "value": new_v, "kt": g.op("Transpose", all_k, perm=[0, 2, 3, 1]),
            "v": g.op("Transpose", all_v, perm=[0, 2, 1, 3]), "length": length}


def _trigram(g: Graph, draft: ChimeraDraft, embed: str, trigram: str, quant, k: int) -> str:
    t = draft.trigram
    e = g.op("Reshape", g.op("Gather", embed, trigram), g.const([1, 1, 3 * draft.cfg.d_model]))
    x = _shared_linear(g, e, "trigram.proj", t.proj.weight, quant)
    r = _shared_linear(g, x, "trigram.residual", t.residual.weight, quant)
    return g.op("Add", x, g.op("Mul", r, g.op("Sigmoid", r)))


def _attend(g: Graph, draft: ChimeraDraft, x: str, pos: str, ctx: dict, chain_k, chain_v, rope, quant, k: int):
    """Attention of chain step k over the context and the chain's own keys, one softmax over both."""
    cfg = draft.cfg
    d, h, dh = cfg.d_model, cfg.n_heads, cfg.head_dim
    normed = g.rms_norm(x, "in_norm", draft.in_norm.weight, cfg.norm_eps)
    qkv = _shared_linear(g, normed, "qkv", _scaled_qkv(draft), quant)
    qk, v = g.op("Split", qkv, g.const([2 * d, d]), outputs=2, axis=-1)
    qk = g.op("RotaryEmbedding", qk, pos, *rope, domain=MS, num_heads=2 * h, interleaved=0)
    q, key = g.op("Split", qk, g.const([d, d]), outputs=2, axis=-1)
    shape = g.const([1, h, 1, dh])  # one position: [1,1,H,Dh] and [1,H,1,Dh] share a layout
    q, key, v = (g.op("Reshape", t, shape) for t in (q, key, v))
    chain_k = key if chain_k is None else g.op("Concat", chain_k, key, axis=2)
    chain_v = v if chain_v is None else g.op("Concat", chain_v, v, axis=2)
    scores = g.op("Concat", g.op("MatMul", q, ctx["kt"]),
                  g.op("FusedMatMul", q, chain_k, domain=MS, transB=1), axis=-1)
    probs = g.op("Softmax", scores, axis=-1)
    on_ctx = g.op("Slice", probs, g.const([0]), ctx["length"], g.const([-1]))
    on_chain = g.op("Slice", probs, ctx["length"], g.const([INT_MAX]), g.const([-1]))
    y = g.op("Add", g.op("MatMul", on_ctx, ctx["v"]), g.op("MatMul", on_chain, chain_v))
    return g.op("Reshape", y, g.const([1, 1, d])), chain_k, chain_v


def _block_out(g: Graph, draft: ChimeraDraft, x: str, y: str, quant, k: int) -> str:
    cfg = draft.cfg
    o = _shared_linear(g, y, "out", draft.out.weight, quant)
    normed, resid = g.add_rms_norm(o, x, "mlp_norm", draft.mlp_norm.weight, cfg.norm_eps)
    gate_w, up_w = draft.mlp.gate_up.weight.chunk(2, dim=0)
    gate = _shared_linear(g, normed, "mlp.gate", gate_w, quant)
    up = _shared_linear(g, normed, "mlp.up", up_w, quant)
    down = _shared_linear(g, g.silu_mul(gate, up), "mlp.down", draft.mlp.down.weight, quant)
    return g.op("Add", resid, down)


def _head(g: Graph, draft: ChimeraDraft, out: str, anchor: str, head: torch.Tensor, k: int, quant) -> tuple[str, str]:
    cfg = draft.cfg
    normed = g.rms_norm(out, "head_norm", draft.head_norm.weight, cfg.norm_eps)
    z = g.op("Add", anchor, g.linear(normed, f"head_proj.{k}", draft.head_proj[k].weight, quant))
    logp = g.op("LogSoftmax", _shared_linear(g, z, "head", head, quant), axis=-1)
    values, index = g.op("TopK", logp, g.const([cfg.top_k]), outputs=2, axis=-1)
    return g.op("Gather", "shortlist", index), values


def _scaled_qkv(draft: ChimeraDraft) -> torch.Tensor:
    """The query rows carry attention's 1/sqrt(head_dim): rotation is linear, so scaling first is the same."""
    w = draft.qkv.weight.detach().clone()
    w[: draft.cfg.d_model] *= 1.0 / math.sqrt(draft.cfg.head_dim)
    return w


# Weights shared by every chain step are stored once; later steps reuse the first step's initializers.
def _shared_linear(g: Graph, x: str, name: str, weight: torch.Tensor, quant) -> str:
    stored = f"{name}.q" if quant is not None else name
    if stored not in g.weights:
        return g.linear(x, name, weight, quant)
    return g.op("MatMul" if quant is None else "MatMulNBits", x, *_reuse(g, name, quant), **_reuse_attrs(g, name, quant))


def _reuse(g: Graph, name: str, quant) -> tuple[str, ...]:
    return (name,) if quant is None else (f"{name}.q", f"{name}.scales")


def _reuse_attrs(g: Graph, name: str, quant) -> dict:
    if quant is None:
        return {}
    n, blocks, _ = g.weights[f"{name}.q"].shape
    return {"domain": MS, "K": blocks * quant.block, "N": n, "bits": quant.bits, "block_size": quant.block,
            "accuracy_level": quant.accuracy_level}
