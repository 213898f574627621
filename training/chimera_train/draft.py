"""The Chimera draft model.

- Trigram encoder: the (frozen, shared) target embeddings of tokens p-2, p-1, p, projected 3h -> h, then a
  zero-initialised residual SiLU block. Projecting first and keeping the residual block at width h costs
  4h^2 per token instead of 12h^2, which matters because the draft runs once per drafted token.
- Full-context encoder: one pre-norm transformer layer. Its queries come from trigram features; its keys and
  values come from the target's last hidden states of every verified position (the context) plus the
  trigram features of the tokens drafted so far in this chain.
- Residual decoding heads: head k scores z_k = h_anchor + U_k norm(d) with the target's LM head, where
  h_anchor is the target's last hidden state at the anchor. U_k starts as the identity, so each head starts
  as [lm_head | lm_head] over [target hidden ; draft hidden] and shares the LM head's memory.
- Drafting is sequential: head k's top token forms the next trigram and the encoder runs again.

The head scores only a shortlist of the most frequent tokens (all of them if the shortlist is the vocab),
which cuts the per-step LM-head cost the draft pays K times per decode step.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .model import MLP, RMSNorm, TargetConfig, TargetLM, apply_rope, merge_last, rope_cos_sin, split_last

PAD_TOKEN = 0  # this toolkit's end-of-text id; positions before the start of the text read as end-of-text


@dataclass
class DraftConfig:
    d_model: int
    n_heads: int
    d_ff: int
    n_steps: int = 4
    top_k: int = 4
    shortlist_size: int = 8192
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5
    pad_token: int = PAD_TOKEN  # the engine pads the first trigram with the manifest's eot id

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    def to_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def for_target(t: TargetConfig, **kw) -> "DraftConfig":
        return DraftConfig(d_model=t.d_model, rope_theta=t.rope_theta, norm_eps=t.norm_eps,
                           **{"n_heads": t.n_heads, "d_ff": 2 * t.d_model, "shortlist_size": t.vocab_size, **kw})


class TrigramEncoder(nn.Module):
    def __init__(self, d: int):
        super().__init__()
        self.proj = nn.Linear(3 * d, d, bias=False)
        self.residual = nn.Linear(d, d, bias=False)
        nn.init.zeros_(self.residual.weight)

    def forward(self, e2: torch.Tensor, e1: torch.Tensor, e0: torch.Tensor) -> torch.Tensor:
        x = self.proj(torch.cat([e2, e1, e0], dim=-1))
        return x + F.silu(self.residual(x))


class ChimeraDraft(nn.Module):
    def __init__(self, cfg: DraftConfig, embed: nn.Embedding, shortlist: torch.Tensor, lm_head: nn.Module | None = None):
        super().__init__()
        self.cfg = cfg
        self.embed = embed  # the target's, frozen by the trainer
        self.lm_head = lm_head  # the target's untied LM head (a Linear); None when the embedding is the head
        self.register_buffer("shortlist", shortlist.to(torch.int64), persistent=True)
        d = cfg.d_model
        self.trigram = TrigramEncoder(d)
        self.ctx_norm = RMSNorm(d, cfg.norm_eps)
        self.ctx_kv = nn.Linear(d, 2 * d, bias=False)
        self.in_norm = RMSNorm(d, cfg.norm_eps)
        self.qkv = nn.Linear(d, 3 * d, bias=False)
        self.out = nn.Linear(d, d, bias=False)
        self.mlp_norm = RMSNorm(d, cfg.norm_eps)
        self.mlp = MLP(TargetConfig(d_model=d, d_ff=cfg.d_ff))
        self.head_norm = RMSNorm(d, cfg.norm_eps)
        self.head_proj = nn.ModuleList(nn.Linear(d, d, bias=False) for _ in range(cfg.n_steps))
        for lin in [self.trigram.proj, self.ctx_kv, self.qkv, self.out, *self.mlp.modules()]:
            if isinstance(lin, nn.Linear):
                nn.init.normal_(lin.weight, std=0.02)
        for proj in self.head_proj:
            nn.init.eye_(proj.weight)

    # --- pieces shared by the training and the drafting paths -------------------------------------------
    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        return split_last(x, self.cfg.n_heads, self.cfg.head_dim)

    def context_kv(self, hidden: torch.Tensor, cos, sin) -> tuple[torch.Tensor, torch.Tensor]:
        k, v = self.ctx_kv(self.ctx_norm(hidden)).chunk(2, dim=-1)
        return apply_rope(self.split_heads(k), cos, sin), self.split_heads(v)

    def chain_qkv(self, g: torch.Tensor, cos, sin):
        q, k, v = self.qkv(self.in_norm(g)).chunk(3, dim=-1)
        return apply_rope(self.split_heads(q), cos, sin), apply_rope(self.split_heads(k), cos, sin), self.split_heads(v)

    def finish(self, g: torch.Tensor, attn: torch.Tensor) -> torch.Tensor:
        d = g + self.out(attn)
        return d + self.mlp(self.mlp_norm(d))

    def head_logits(self, step: int, anchor: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        z = anchor + self.head_proj[step](self.head_norm(d))
        frozen = getattr(self, "frozen_head", None)
        if frozen is not None:
            return z @ frozen.T
        head = self.embed.weight if self.lm_head is None else self.lm_head.weight
        return z @ head[self.shortlist].T

    def cos_sin(self, positions: torch.Tensor):
        return rope_cos_sin(positions, self.cfg.head_dim, self.cfg.rope_theta)

    # --- training: every anchor of a sequence and every step at once -----------------------------------
    def forward_train(self, tokens: torch.Tensor, hidden: torch.Tensor, rows: torch.Tensor | None = None) -> list[torch.Tensor]:
        """tokens [B,T], hidden [B,T,D] from the target. Returns per step k (0-based) logits [B,T,S] where row
        p is the draft's guess for the token after p, with anchor t = p - (k+1) (rows p <= k are invalid).
        With `rows` (positions >= n_steps), only those rows are scored ([B,len(rows),S]): the LM head is
        most of the training cost, and a sample of positions teaches nearly as much."""
        b, t = tokens.shape
        pad = torch.full((b, 2), self.cfg.pad_token, dtype=tokens.dtype, device=tokens.device)
        padded = torch.cat([pad, tokens], dim=1)
        e = self.embed(padded)
        g = self.trigram(e[:, :-2], e[:, 1:-1], e[:, 2:])
        pos = torch.arange(t, device=tokens.device)[None].expand(b, t)
        cos, sin = self.cos_sin(pos)
        ck, cv = self.context_kv(hidden, cos, sin)
        q, gk, gv = self.chain_qkv(g, cos, sin)
        keys = torch.cat([ck, gk], dim=1).transpose(1, 2)
        values = torch.cat([cv, gv], dim=1).transpose(1, 2)
        qh = q.transpose(1, 2)
        outs = []
        idx = torch.arange(t, device=tokens.device)
        for k in range(self.cfg.n_steps):
            step = k + 1
            anchor_pos = idx - step  # query p uses context <= p-step and chain features in (p-step, p]
            ctx_ok = idx[None, :] <= anchor_pos[:, None]
            chain_ok = (idx[None, :] > anchor_pos[:, None]) & (idx[None, :] <= idx[:, None])
            allowed = torch.cat([ctx_ok, chain_ok], dim=1)
            allowed[: step] = True  # rows without an anchor are ignored by the loss; keep softmax finite
            y = F.scaled_dot_product_attention(qh, keys, values, attn_mask=allowed)
            d = self.finish(g, y.transpose(1, 2).reshape(b, t, -1))
            anchor = torch.roll(hidden, shifts=step, dims=1)
            if rows is not None:
                d, anchor = d[:, rows], anchor[:, rows]
            outs.append(self.head_logits(k, anchor, d))
        return outs

    # --- drafting: one chain from the verified context (the ONNX export path) -------------------------
    def forward_draft(self, hidden_states, past_k, past_v, tokens, position_offset: int = 0):
        """hidden_states [1,N,D]: target hidden states of newly verified positions P..P+N-1; past_k/v
        [1,P,H,Dh]; tokens [1,3]: the last two verified tokens and the root token (position P+N).
        Returns new context k, v [1,N,H,Dh], draft token ids [1,K,top_k] and their log-probs. With a window of
        the context as past (its first row at absolute position `position_offset`), positions stay absolute.

        The context is put in head-major layout once per call, and each chain step attends to it and to
        the chain's own few keys separately (softmax over both score sets together): re-concatenating
        and transposing the whole context at every step was a third of the draft's time."""
        p = past_k.shape[1]
        n = hidden_states.shape[1]
        pos = torch.arange(n, device=hidden_states.device)[None] + p + position_offset
        ck, cv = self.context_kv(hidden_states, *self.cos_sin(pos))
        ctx_kt = torch.cat([past_k, ck], dim=1).permute(0, 2, 3, 1)  # [1,H,Dh,P+N]
        ctx_v = torch.cat([past_v, cv], dim=1).transpose(1, 2)  # [1,H,P+N,Dh]
        n_ctx = ctx_v.shape[2]
        chain_k, chain_v = [], []
        anchor = hidden_states[:, -1:]
        a, b_, c = tokens[:, 0:1], tokens[:, 1:2], tokens[:, 2:3]
        scale = 1.0 / math.sqrt(self.cfg.head_dim)
        ids_out, lp_out = [], []
        for k in range(self.cfg.n_steps):
            g = self.trigram(self.embed(a), self.embed(b_), self.embed(c))
            qpos = pos[:, -1:] + 1 + k
            q, gk, gv = self.chain_qkv(g, *self.cos_sin(qpos))
            chain_k.append(gk.transpose(1, 2))  # [1,H,1,Dh]
            chain_v.append(gv.transpose(1, 2))
            qh = q.transpose(1, 2) * scale  # [1,H,1,Dh]
            own_k = torch.cat(chain_k, dim=2)
            own_v = torch.cat(chain_v, dim=2)
            scores = torch.cat([qh @ ctx_kt, qh @ own_k.transpose(2, 3)], dim=-1)
            probs = torch.softmax(scores, dim=-1)
            y = probs[..., :n_ctx] @ ctx_v + probs[..., n_ctx:] @ own_v
            d = self.finish(g, merge_last(y.transpose(1, 2), self.cfg.d_model))
            logp = torch.log_softmax(self.head_logits(k, anchor, d), dim=-1)
            top_lp, top_i = torch.topk(logp, self.cfg.top_k, dim=-1)
            ids = self.shortlist[top_i]
            ids_out.append(ids)
            lp_out.append(top_lp)
            a, b_, c = b_, c, ids[..., 0]
        return ck, cv, torch.cat(ids_out, dim=1), torch.cat(lp_out, dim=1)

    def freeze_head(self) -> None:
        """Stores the shortlist's rows of the LM head as a constant, so the exported graph holds the
        [S, D] matrix itself instead of gathering it from the full head on every call."""
        head = self.embed.weight if getattr(self, "lm_head", None) is None else self.lm_head.weight
        self.register_buffer("frozen_head", head[self.shortlist].detach().clone())


def build_draft(target: TargetLM, cfg: DraftConfig, shortlist: torch.Tensor) -> ChimeraDraft:
    """Shares the target's embedding and, for targets with an untied LM head (`target.head`), that head."""
    return ChimeraDraft(cfg, target.embed, shortlist, getattr(target, "head", None))


def frequency_shortlist(stream, vocab_size: int, size: int) -> torch.Tensor:
    """The `size` most frequent token ids in a token stream, sorted by id."""
    import numpy as np

    counts = np.bincount(np.asarray(stream, dtype=np.int64), minlength=vocab_size)
    top = np.argsort(-counts, kind="stable")[:size]
    return torch.from_numpy(np.sort(top))
