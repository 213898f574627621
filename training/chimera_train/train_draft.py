"""Train the Chimera draft by distillation: the target is frozen, and each head learns the target's own
greedy prediction (argmax of its logits) from the target's hidden states. Resumable, logs JSON lines."""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from .data import batches
from .draft import ChimeraDraft, DraftConfig, build_draft, frequency_shortlist
from .model import TargetLM


@dataclass
class DraftTrainArgs:
    run_dir: Path
    steps: int = 3000
    batch_size: int = 16
    seq_len: int = 256
    lr: float = 2e-3
    min_lr_frac: float = 0.05
    warmup: int = 100
    step_weight_decay: float = 0.8  # later heads are harder; weigh them a little less
    row_fraction: float = 0.5  # share of positions scored per batch (the LM head dominates the cost)
    eval_every: int = 250
    eval_batches: int = 16
    threads: int = 2
    seed: int = 0
    device: str = "cpu"
    progress: bool = False  # a tqdm bar on stderr (the JSON log lines go to `log`)
    init: Path | None = None  # a draft checkpoint to start from when there is none to resume
    stop_at: int | None = None  # end the run here (a checkpoint), keeping the schedule of `steps`; rerun to go on

# Parameters the draft borrows from the target: frozen, and never saved in the draft's checkpoint.
SHARED = ("embed.", "lm_head.")


def lr_at(step: int, a: DraftTrainArgs) -> float:
    if step < a.warmup:
        return a.lr * (step + 1) / a.warmup
    frac = (step - a.warmup) / max(1, a.steps - a.warmup)
    return a.lr * (a.min_lr_frac + (1 - a.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * min(1.0, frac))))


def shortlist_index(shortlist: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """Full-vocab id -> shortlist index, or -100 (ignored by the loss) when the id is not in it."""
    table = torch.full((vocab_size,), -100, dtype=torch.int64)
    table[shortlist] = torch.arange(len(shortlist))
    return table


@torch.no_grad()
def target_view(target: TargetLM, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    logits, hidden = target(x)
    return hidden, logits.argmax(-1)


def draft_losses(draft: ChimeraDraft, x: torch.Tensor, hidden: torch.Tensor, greedy: torch.Tensor,
                 table: torch.Tensor, row_fraction: float = 1.0) -> tuple[list[torch.Tensor], list[tuple[int, int, int]]]:
    """Cross-entropy per step, plus (top-1 hits, top-k hits, count) per step against the target's greedy.
    With row_fraction < 1, a random sample of positions is scored (the same sample for every step)."""
    losses, stats = [], []
    rows = None
    t, k_steps = x.shape[1], draft.cfg.n_steps
    if row_fraction < 1.0:
        count = max(1, int((t - k_steps) * row_fraction))
        rows = torch.randperm(t - k_steps, device=x.device)[:count].sort().values + k_steps
    for k, logits in enumerate(draft.forward_train(x, hidden, rows)):
        step = k + 1
        lg = logits if rows is not None else logits[:, step:]
        labels = table[greedy[:, rows] if rows is not None else greedy[:, step:]]
        losses.append(F.cross_entropy(lg.reshape(-1, lg.shape[-1]), labels.reshape(-1), ignore_index=-100))
        with torch.no_grad():
            truth = labels.reshape(-1)
            topk = lg.reshape(-1, lg.shape[-1]).topk(draft.cfg.top_k, dim=-1).indices
            stats.append((int((topk[:, 0] == truth).sum()), int((topk == truth[:, None]).any(-1).sum()),
                          int(truth.numel())))
    return losses, stats


@torch.no_grad()
def evaluate(draft, target, val, a: DraftTrainArgs, table) -> dict:
    draft.eval()
    it = batches(val, a.seq_len, a.batch_size, np.random.default_rng(4321))
    totals = np.zeros((draft.cfg.n_steps, 3))
    for _ in range(a.eval_batches):
        x = torch.from_numpy(next(it))[:, :-1].to(a.device)
        hidden, greedy = target_view(target, x)
        _, stats = draft_losses(draft, x, hidden, greedy, table)
        totals += np.array(stats)
    draft.train()
    return {"top1": [round(t[0] / t[2], 4) for t in totals], f"top{draft.cfg.top_k}": [round(t[1] / t[2], 4) for t in totals]}


def train_draft(target: TargetLM, cfg: DraftConfig, train_stream: np.ndarray, val_stream: np.ndarray,
                a: DraftTrainArgs, log: Callable[[str], None] = print) -> ChimeraDraft:
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    a.run_dir.mkdir(parents=True, exist_ok=True)
    target.eval()
    for p in target.parameters():
        p.requires_grad_(False)
    shortlist = frequency_shortlist(train_stream, target.cfg.vocab_size, cfg.shortlist_size)
    draft = build_draft(target, cfg, shortlist).to(a.device)
    params = [p for p in draft.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=a.lr, betas=(0.9, 0.95), weight_decay=0.0)
    ckpt_path, step = a.run_dir / "draft_ckpt.pt", 0
    if ckpt_path.exists():
        ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        draft.load_state_dict(ckpt["draft"], strict=False)  # embedding and head are the target's, never saved
        opt.load_state_dict(ckpt["opt"])
        step = ckpt["step"]
        log(json.dumps({"event": "resume", "step": step}))
    elif a.init is not None:
        state = torch.load(a.init, map_location="cpu", weights_only=False)["draft"]
        state.pop("shortlist", None)  # this run's shortlist, from this run's data, is the one kept
        draft.load_state_dict(state, strict=False)
        log(json.dumps({"event": "init", "from": str(a.init)}))
    table = shortlist_index(draft.shortlist.cpu(), target.cfg.vocab_size).to(a.device)
    it: Iterator[np.ndarray] = batches(train_stream, a.seq_len, a.batch_size, np.random.default_rng(a.seed + step))
    t0, tokens = time.time(), 0
    bar = _progress_bar(a, step)
    end = min(a.steps, a.stop_at or a.steps)
    while step < end:
        for group in opt.param_groups:
            group["lr"] = lr_at(step, a)
        x = torch.from_numpy(next(it))[:, :-1].to(a.device)
        hidden, greedy = target_view(target, x)
        losses, _ = draft_losses(draft, x, hidden, greedy, table, a.row_fraction)
        loss = sum(l * a.step_weight_decay ** k for k, l in enumerate(losses))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        tokens += x.numel()
        if bar is not None:
            bar.update(1)
        if step % 25 == 0:
            log(json.dumps({"step": step, "loss": [round(l.item(), 3) for l in losses],
                            "tokens_per_s": round(tokens / (time.time() - t0), 1)}))
            t0, tokens = time.time(), 0
        if step % a.eval_every == 0 or step == end:
            log(json.dumps({"step": step, "val_accuracy": evaluate(draft, target, val_stream, a, table)}))
            save_draft(ckpt_path, draft, opt, step)
    if bar is not None:
        bar.close()
    return draft


def _progress_bar(a: DraftTrainArgs, step: int):
    if not a.progress:
        return None
    from tqdm import tqdm

    return tqdm(total=a.steps, initial=step, unit="step", desc="draft", dynamic_ncols=True)


def save_draft(path: Path, draft: ChimeraDraft, opt, step: int) -> None:
    state = {k: v for k, v in draft.state_dict().items() if not k.startswith(SHARED)}
    tmp = path.with_suffix(".tmp")
    torch.save({"draft": state, "opt": opt.state_dict() if opt else None, "step": step,
                "config": draft.cfg.to_dict()}, tmp)
    os.replace(tmp, path)


def load_draft(path: Path, target: TargetLM) -> ChimeraDraft:
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    cfg = DraftConfig(**ckpt["config"])
    draft = build_draft(target, cfg, ckpt["draft"]["shortlist"])
    missing, unexpected = draft.load_state_dict(ckpt["draft"], strict=False)
    if unexpected or any(not m.startswith(SHARED) for m in missing):
        raise ValueError(f"{path}: draft checkpoint does not fit: missing {missing}, unexpected {unexpected}")
    return draft
