"""Evaluation for the model card: validation loss and perplexity over the whole held-out stream, the
draft's per-head accuracy against the target's greedy tokens, and greedy completions of held-out code."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tokenizers import Tokenizer

from .model import TargetLM
from .train_draft import DraftTrainArgs, evaluate as draft_accuracy, shortlist_index


@torch.no_grad()
def validation_loss(model: TargetLM, stream: np.ndarray, seq_len: int = 512, batch: int = 8) -> dict:
    """Mean next-token loss over consecutive windows covering the stream (every token scored once)."""
    model.eval()
    n_windows = (len(stream) - 1) // seq_len
    total, count = 0.0, 0
    for start in range(0, n_windows, batch):
        rows = [stream[i * seq_len : i * seq_len + seq_len + 1] for i in range(start, min(n_windows, start + batch))]
        x = torch.from_numpy(np.stack(rows).astype(np.int64))
        logits, _ = model(x[:, :-1])
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1), reduction="sum").item()
        count += x[:, 1:].numel()
    loss = total / count
    return {"val_loss": round(loss, 4), "val_ppl": round(math.exp(loss), 2), "val_tokens": count, "seq_len": seq_len}


@torch.no_grad()
def greedy(model: TargetLM, ids: list[int], new_tokens: int, stop: set[int]) -> list[int]:
    out: list[int] = []
    x = torch.tensor([ids])
    for _ in range(new_tokens):
        logits, _ = model(x[:, -model.cfg.max_seq_len:])
        nxt = int(logits[0, -1].argmax())
        if nxt in stop:
            break
        out.append(nxt)
        x = torch.cat([x, torch.tensor([[nxt]])], dim=1)
    return out


def samples(model: TargetLM, tok: Tokenizer, prompts_file: Path, n: int, new_tokens: int) -> list[dict]:
    tok.encode_special_tokens = True
    rows = [json.loads(line) for line in prompts_file.read_text().splitlines()[:n]]
    out = []
    for row in rows:
        prompt = row["prompt"][-600:]
        ids = tok.encode(prompt, add_special_tokens=False).ids
        gen = greedy(model, ids, new_tokens, stop={0})
        out.append({"source": row.get("source"), "prompt_tail": prompt[-200:], "completion": tok.decode(gen)})
    return out


def evaluate_all(target: TargetLM, val_stream: np.ndarray, tok: Tokenizer, prompts: Path | None, draft=None,
                 draft_batches: int = 40) -> dict:
    report = {"target": validation_loss(target, val_stream)}
    if draft is not None:
        args = DraftTrainArgs(run_dir=Path("."), eval_batches=draft_batches, batch_size=16, seq_len=256)
        table = shortlist_index(draft.shortlist, target.cfg.vocab_size)
        report["draft_accuracy"] = draft_accuracy(draft, target, val_stream, args, table)
    if prompts is not None and prompts.exists():
        report["samples"] = samples(target, tok, prompts, 5, 48)
    return report
