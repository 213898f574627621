"""The Chimera draft as hand-written ONNX, in two forms that share one chain builder:

- a standalone graph (the `draft.onnx` contract, export.py's DRAFT_INPUTS/OUTPUTS), called by the engine
  before a step with the hidden states verified since its last call;
- a subgraph fused into the target's graph (graph_fused.py), which drafts the next step's candidates from
  several tree nodes at once, during the verification pass itself.

Both compute what ChimeraDraft.forward_draft computes. Each chain step is some forty nodes (the traced
graph had 225), the weights may be stored as int8 blocks (a draft only proposes; the target verifies every
token, so the draft's precision changes acceptance, never the output), and the chain length and the
shortlist can be cut at export.

Attention of a drafting row covers three key sets under one softmax: a window of the committed context
(the draft was trained on windows of a few hundred tokens; positions stay absolute), the new context rows
it may see (`mask`), and its own chain.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .draft import ChimeraDraft
from .onnx_build import MS, Graph, Quant, rope_tables

INT_MAX = 2**62


@dataclass
class Keys:
    """Keys and values [1,L,H,Dh] (sequence-major, as the caches hold them) for the chain's attention."""
    k: str
    v: str


def head_rows(draft: ChimeraDraft, shortlist: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """(the LM head's rows of the export shortlist [S, D], the shortlist ids [S])."""
    ids = draft.shortlist if shortlist is None else shortlist.to(torch.int64)
    if shortlist is not None and not torch.isin(ids, draft.shortlist).all():
        raise ValueError("the export shortlist must be a subset of the ids the draft was trained on")
    weight = draft.embed.weight if draft.lm_head is None else draft.lm_head.weight
    return weight.detach()[ids].to(torch.float32), ids


def context_rows(g: Graph, draft: ChimeraDraft, hidden: str, positions: str, rope, quant) -> tuple[str, str]:
    """Context keys (rotated at their absolute positions) and values of target hidden states [1,N,D]:
    [1,N,H,Dh] each, the rows the engine commits to the draft's context cache."""
    cfg = draft.cfg
    h, dh = cfg.n_heads, cfg.head_dim
    normed = g.rms_norm(hidden, "draft.ctx_norm", draft.ctx_norm.weight, cfg.norm_eps)
    kv = shared_linear(g, normed, "draft.ctx_kv", draft.ctx_kv.weight, quant)
    k_raw, v = g.op("Split", kv, g.const([cfg.d_model, cfg.d_model]), outputs=2, axis=-1)
    k = g.op("RotaryEmbedding", k_raw, positions, *rope, domain=MS, num_heads=h, interleaved=0)
    return g.op("Reshape", k, g.const([1, -1, h, dh])), g.op("Reshape", v, g.const([1, -1, h, dh]))


def as_keys(g: Graph, k: str, v: str) -> Keys:
    return Keys(k, v)


@dataclass
class ChainInputs:
    anchor: str  # [1,R,D] target hidden state of each drafting row
    trigram: tuple[str, str, str]  # [1,R] int64 each: the token before, the row's token, the root after it
    position: str  # [1,R] int64: the absolute position of the row (the root sits one after)
    window: Keys  # committed context
    new: Keys  # context rows computed in this call
    mask: str  # [1,1,R,N] additive: which new rows each drafting row may see


def draft_chain(g: Graph, draft: ChimeraDraft, x: ChainInputs, *, embed: str, steps: int, head: torch.Tensor,
                shortlist: str, rope, quant) -> tuple[str, str]:
    """Runs `steps` chain steps for every drafting row at once; returns token ids and log-probs [1,R,K,k].

    All rows attend to one key set, window + new rows + every row's chain so far, with an additive bias
    that limits each row to its visible new rows and its own chain: onnxruntime's MultiHeadAttention then
    does a step's attention in one node."""
    cfg = draft.cfg
    keys, values, bias, base_len, rows = _shared_keys(g, draft, x, steps)
    embeds = [g.op("Gather", embed, t) for t in x.trigram]  # [1,R,D] each
    ids_out, lp_out = [], []
    for k in range(steps):
        pos = g.op("Add", x.position, g.const([[k + 1]]))
        feat = _trigram(g, draft, embeds, quant)
        normed = g.rms_norm(feat, "draft.in_norm", draft.in_norm.weight, cfg.norm_eps)
        qkv = shared_linear(g, normed, "draft.qkv", draft.qkv.weight, quant)
        qk, v = g.op("Split", qkv, g.const([2 * cfg.d_model, cfg.d_model]), outputs=2, axis=-1)
        qk = g.op("RotaryEmbedding", qk, pos, *rope, domain=MS, num_heads=2 * cfg.n_heads, interleaved=0)
        q, key = g.op("Split", qk, g.const([cfg.d_model, cfg.d_model]), outputs=2, axis=-1)
        keys = g.op("Concat", keys, _heads_first(g, draft, key), axis=2)
        values = g.op("Concat", values, _heads_first(g, draft, v), axis=2)
        visible = g.op("Add", base_len, g.op("Mul", rows, g.const([k + 1])))
        step_bias = g.op("Slice", bias, g.const([0]), visible, g.const([3]))
        y = g.op("MultiHeadAttention", q, keys, values, "", "", step_bias, domain=MS, num_heads=cfg.n_heads)
        out = _block_out(g, draft, feat, y, quant)
        ids, logp = _head(g, draft, out, x.anchor, head, shortlist, k, quant, embed)
        ids_out.append(g.op("Unsqueeze", ids, g.const([2])))
        lp_out.append(g.op("Unsqueeze", logp, g.const([2])))
        if k + 1 < steps:
            first = g.op("Squeeze", g.op("Slice", ids, g.const([0]), g.const([1]), g.const([2])), g.const([2]))
            embeds = [embeds[1], embeds[2], g.op("Gather", embed, first)]
    return _stack(g, ids_out), _stack(g, lp_out)


def _heads_first(g: Graph, draft: ChimeraDraft, x: str) -> str:
    """[1,L,D] -> [1,H,L,Dh]."""
    return g.op("Transpose", g.op("Reshape", x, g.const([1, -1, draft.cfg.n_heads, draft.cfg.head_dim])), perm=[0, 2, 1, 3])


def _shared_keys(g: Graph, draft: ChimeraDraft, x: ChainInputs, steps: int):
    """The keys every chain step starts from (window, then new rows) in [1,H,L,Dh], and the bias for the
    longest chain: [1,1,R,W+N+R*steps], where chain entry j (step j // R of row j % R) is visible to its
    own row only. Each step slices the bias to the keys that exist by then."""
    keys = g.op("Transpose", g.op("Concat", x.window.k, x.new.k, axis=1), perm=[0, 2, 1, 3])
    values = g.op("Transpose", g.op("Concat", x.window.v, x.new.v, axis=1), perm=[0, 2, 1, 3])
    rows = g.op("Shape", x.anchor, start=1, end=2)  # [1]: R
    window_zeros = g.op("ConstantOfShape", g.op("Concat", g.const([1, 1]), rows, g.op("Shape", x.window.k, start=1, end=2), axis=0),
                        value=_float_tensor(0.0))
    entry = g.op("Range", g.const(0), g.op("Squeeze", g.op("Mul", rows, g.const([steps])), g.const([0])), g.const(1))
    owner = g.op("Mod", entry, g.op("Squeeze", rows, g.const([0])))  # [R*steps]
    row_ids = g.op("Unsqueeze", g.op("Range", g.const(0), g.op("Squeeze", rows, g.const([0])), g.const(1)), g.const([1]))
    own = g.op("Equal", g.op("Unsqueeze", owner, g.const([0])), row_ids)  # [R, R*steps]
    chain_bias = g.op("Where", own, g.const(0.0, np.float32), g.const(float("-inf"), np.float32))
    bias = g.op("Concat", window_zeros, x.mask, g.op("Unsqueeze", chain_bias, g.const([0, 1])), axis=3)
    base_len = g.op("Shape", keys, start=2, end=3)  # [1]: W + N
    return keys, values, bias, base_len, rows


def build_draft_graph(draft: ChimeraDraft, *, capacity: int, n_steps: int | None = None,
                      shortlist: torch.Tensor | None = None, quant: Quant | None = None) -> Graph:
    """The standalone draft (see export.export_draft for its inputs and outputs)."""
    cfg = draft.cfg
    steps = _steps(draft, n_steps)
    d, h, dh = cfg.d_model, cfg.n_heads, cfg.head_dim
    g = Graph("chimera_draft")
    hidden = g.input("hidden_states", "float32", [1, "N", d])
    past_k = g.input("past_context.key", "float32", [1, "P", h, dh])
    past_v = g.input("past_context.value", "float32", [1, "P", h, dh])
    tokens = g.input("tokens", "int64", [1, 3])
    offset = g.input("position_offset", "int64", [1])
    rope = _rope(g, draft, capacity + steps + 1)

    p = g.op("Gather", g.op("Shape", past_k), g.const([1]))
    n = g.op("Gather", g.op("Shape", hidden), g.const([1]))
    first_new = g.op("Add", offset, p)
    positions = g.op("Unsqueeze", g.op("Range", g.op("Squeeze", first_new, g.const([0])),
                                       g.op("Squeeze", g.op("Add", first_new, n), g.const([0])), g.const(1)), g.const([0]))
    new_k, new_v = context_rows(g, draft, hidden, positions, rope, quant)
    g.output(new_k, "present_context.key", "float32", [1, "N", h, dh])
    g.output(new_v, "present_context.value", "float32", [1, "N", h, dh])
    head, ids = head_rows(draft, shortlist)
    g.weight("draft.shortlist", ids)
    embed = g.weight("draft.embed", draft.embed.weight.detach())
    anchor = g.op("Slice", hidden, g.const([-1]), g.const([INT_MAX]), g.const([1]))  # [1,1,D]
    trigram = tuple(g.op("Slice", tokens, g.const([i]), g.const([i + 1]), g.const([1])) for i in range(3))
    last = g.op("Slice", positions, g.const([-1]), g.const([INT_MAX]), g.const([1]))
    zero_mask = g.op("ConstantOfShape", g.op("Concat", g.const([1, 1, 1]), n, axis=0),
                     value=_float_tensor(0.0))  # the chain sees every new context row
    inputs = ChainInputs(anchor, trigram, last, as_keys(g, past_k, past_v), as_keys(g, new_k, new_v), zero_mask)
    ids_out, lp_out = draft_chain(g, draft, inputs, embed=embed, steps=steps, head=head, shortlist="draft.shortlist",
                                  rope=rope, quant=quant)
    g.output(g.op("Squeeze", ids_out, g.const([0])), "draft_tokens", "int64", [1, steps, cfg.top_k])
    g.output(g.op("Squeeze", lp_out, g.const([0])), "draft_logprobs", "float32", [1, steps, cfg.top_k])
    return g


# ---- pieces --------------------------------------------------------------------------------------------
def _steps(draft: ChimeraDraft, n_steps: int | None) -> int:
    steps = n_steps or draft.cfg.n_steps
    if not 1 <= steps <= draft.cfg.n_steps:
        raise ValueError(f"n_steps must be between 1 and {draft.cfg.n_steps}")
    return steps


def _rope(g: Graph, draft: ChimeraDraft, positions: int):
    cos, sin = rope_tables(positions, draft.cfg.head_dim, draft.cfg.rope_theta)
    return g.weight("draft.rope.cos", cos), g.weight("draft.rope.sin", sin)


def _float_tensor(value: float):
    from onnx import helper, TensorProto

    return helper.make_tensor("value", TensorProto.FLOAT, [1], [value])


def _trigram(g: Graph, draft: ChimeraDraft, embeds: list[str], quant) -> str:
    e = g.op("Concat", *embeds, axis=-1)  # [1,R,3D]
    x = shared_linear(g, e, "draft.trigram.proj", draft.trigram.proj.weight, quant)
    r = shared_linear(g, x, "draft.trigram.residual", draft.trigram.residual.weight, quant)
    return g.op("Add", x, g.op("Mul", r, g.op("Sigmoid", r)))


def _block_out(g: Graph, draft: ChimeraDraft, feat: str, y: str, quant) -> str:
    o = shared_linear(g, y, "draft.out", draft.out.weight, quant)
    normed, resid = g.add_rms_norm(o, feat, "draft.mlp_norm", draft.mlp_norm.weight, draft.cfg.norm_eps)
    gate_w, up_w = draft.mlp.gate_up.weight.chunk(2, dim=0)
    gate = shared_linear(g, normed, "draft.mlp.gate", gate_w, quant)
    up = shared_linear(g, normed, "draft.mlp.up", up_w, quant)
    down = shared_linear(g, g.silu_mul(gate, up), "draft.mlp.down", draft.mlp.down.weight, quant)
    return g.op("Add", resid, down)


def _head(g: Graph, draft: ChimeraDraft, out: str, anchor: str, head: torch.Tensor, shortlist: str, k: int, quant,
          embed: str):
    normed = g.rms_norm(out, "draft.head_norm", draft.head_norm.weight, draft.cfg.norm_eps)
    z = g.op("Add", anchor, g.linear(normed, f"draft.head_proj.{k}", draft.head_proj[k].weight, quant))
    if _head_is_embedding(draft, head, quant):
        # Tied head over the whole vocabulary: score against the embedding itself rather than a copy of it.
        logits = g.op("FusedMatMul", z, embed, domain=MS, transB=1)
    else:
        logits = shared_linear(g, z, "draft.head", head, quant)
    logp = g.op("LogSoftmax", logits, axis=-1)
    values, index = g.op("TopK", logp, g.const([draft.cfg.top_k]), outputs=2, axis=-1)
    return g.op("Gather", shortlist, index), values  # [1,R,k] each


def _head_is_embedding(draft: ChimeraDraft, head: torch.Tensor, quant) -> bool:
    return quant is None and draft.lm_head is None and head.shape[0] == draft.embed.weight.shape[0]


def _stack(g: Graph, parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else g.op("Concat", *parts, axis=2)


def shared_linear(g: Graph, x: str, name: str, weight: torch.Tensor, quant) -> str:
    """A linear layer whose weights every chain step shares: stored once, reused by name."""
    stored = f"{name}.q" if quant is not None else name
    if stored not in g.weights:
        return g.linear(x, name, weight, quant)
    if quant is None:
        return g.op("MatMul", x, name)
    n, k = weight.shape
    return g.op("MatMulNBits", x, f"{name}.q", f"{name}.scales", domain=MS, K=k, N=n,
                bits=quant.bits, block_size=quant.block, accuracy_level=quant.accuracy_level)
