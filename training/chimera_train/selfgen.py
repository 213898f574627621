"""Self-distillation data for the draft: the target's own greedy continuations of corpus windows.

At decode time the draft predicts the target's next tokens *after text the target wrote itself*, and a
small model's own output is more repetitive and more predictable than human code. Distilling only on
corpus windows trains the draft on contexts it rarely sees when it runs (Medusa-2's self-distillation
uses the target's generations for the same reason). `selfgen` writes a token stream of [corpus prompt | greedy
continuation] blocks, mixed block by block with plain corpus windows so the draft keeps both.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .model import TargetLM, merge_last, rope_cos_sin


@dataclass
class SelfGenArgs:
    out: Path
    blocks: int = 6144  # prompt + continuation blocks to write
    prompt_len: int = 160
    new_tokens: int = 128
    batch_size: int = 64
    corpus_share: float = 0.5  # share of the stream's blocks that are plain corpus windows, in [0, 1)
    threads: int = 2
    seed: int = 0


@torch.no_grad()
def greedy_continue(target: TargetLM, prompts: torch.Tensor, new_tokens: int) -> torch.Tensor:
    """[B, P] prompts -> [B, new_tokens] greedy continuations. The cache is preallocated and written in
    place (forward_cached concatenates, which copies the whole cache every step)."""
    b, p = prompts.shape
    cfg = target.cfg
    total = p + new_tokens
    cache = [(torch.zeros(b, cfg.n_heads, total, cfg.head_dim), torch.zeros(b, cfg.n_heads, total, cfg.head_dim))
             for _ in range(cfg.n_layers)]
    token, length, out = prompts, 0, []
    for _ in range(new_tokens):
        t = token.shape[1]
        positions = torch.arange(length, length + t)[None].expand(b, t)
        cos, sin = rope_cos_sin(positions, cfg.head_dim, cfg.rope_theta)
        x = target.embed(token)
        for block, (keys, values) in zip(target.blocks, cache):
            q, k, v = block.attn.project(block.attn_norm(x), cos, sin)
            keys[:, :, length : length + t] = k.transpose(1, 2)
            values[:, :, length : length + t] = v.transpose(1, 2)
            y = F.scaled_dot_product_attention(q.transpose(1, 2), keys[:, :, : length + t], values[:, :, : length + t],
                                               is_causal=t > 1)
            x = x + block.attn.out(merge_last(y.transpose(1, 2), cfg.n_heads * cfg.head_dim))
            x = x + block.mlp(block.mlp_norm(x))
        logits = target.lm_head(target.final_norm(x[:, -1:]))
        length += t
        token = logits[:, -1].argmax(-1, keepdim=True)
        out.append(token)
    return torch.cat(out, dim=1)


def build_selfgen_stream(target: TargetLM, corpus: np.ndarray, a: SelfGenArgs,
                         log: Callable[[str], None] = print) -> np.ndarray:
    if not 0 <= a.corpus_share < 1:
        raise ValueError(f"corpus_share must be in [0, 1), not {a.corpus_share}")
    torch.set_num_threads(a.threads)
    target.eval()
    rng = np.random.default_rng(a.seed)
    windows_per_block = a.corpus_share / (1 - a.corpus_share)  # corpus windows per generated block, on average
    block = a.prompt_len + a.new_tokens
    pieces: list[np.ndarray] = []
    t0, done = time.time(), 0
    while done < a.blocks:
        n = min(a.batch_size, a.blocks - done)
        starts = rng.integers(0, len(corpus) - block, size=n)
        prompts = torch.from_numpy(np.stack([corpus[s : s + a.prompt_len] for s in starts]).astype(np.int64))
        continuation = greedy_continue(target, prompts, a.new_tokens).numpy()
        for i in range(n):
            pieces.append(np.concatenate([prompts[i].numpy(), continuation[i]]))
            windows = int(windows_per_block) + int(rng.random() < windows_per_block % 1)
            for s in rng.integers(0, len(corpus) - block, size=windows):
                pieces.append(np.asarray(corpus[s : s + block]))
        done += n
        log(json.dumps({"blocks": done, "of": a.blocks, "generated_tok_per_s": round(done * a.new_tokens / (time.time() - t0))}))
    stream = np.concatenate(pieces).astype(corpus.dtype)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    np.save(a.out, stream)
    return stream
