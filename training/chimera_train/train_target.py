"""Train the target LM with next-token loss. Resumable; logs loss and tokens/s as JSON lines.

Learning rate: warmup, then constant, then a linear decay over the last `decay_frac` of the steps
(warmup-stable-decay), so a run can be extended by raising --steps on resume without a restart.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .data import batches
from .model import TargetConfig, TargetLM, count_params


@dataclass
class TrainArgs:
    run_dir: Path
    train_tokens: Path
    val_tokens: Path
    steps: int = 20000
    batch_size: int = 16
    seq_len: int = 512
    lr: float = 2e-3
    min_lr_frac: float = 0.05
    warmup: int = 300
    decay_frac: float = 0.2
    weight_decay: float = 0.1
    eval_every: int = 250
    save_every: int = 250
    eval_batches: int = 20
    threads: int = 2
    seed: int = 0


def lr_at(step: int, a: TrainArgs) -> float:
    if step < a.warmup:
        return a.lr * (step + 1) / a.warmup
    decay_start = int(a.steps * (1 - a.decay_frac))
    if step < decay_start:
        return a.lr
    frac = min(1.0, (step - decay_start) / max(1, a.steps - decay_start))
    return a.lr * (1 - (1 - a.min_lr_frac) * frac)


def make_optimizer(model: TargetLM, a: TrainArgs) -> torch.optim.Optimizer:
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": a.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=a.lr, betas=(0.9, 0.95))


@torch.no_grad()
def evaluate(model: TargetLM, val: np.ndarray, a: TrainArgs) -> float:
    model.eval()
    rng = np.random.default_rng(1234)  # the same windows every time, so evals are comparable
    it = batches(val, a.seq_len, a.batch_size, rng)
    losses = []
    for _ in range(a.eval_batches):
        x = torch.from_numpy(next(it))
        logits, _ = model(x[:, :-1])
        losses.append(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1)).item())
    model.train()
    return float(np.mean(losses))


def save_checkpoint(path: Path, model: TargetLM, opt, step: int, extra: dict) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                "config": model.cfg.to_dict(), **extra}, tmp)
    os.replace(tmp, path)  # a crash mid-save never leaves a torn checkpoint


def load_model(path: Path) -> TargetLM:
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    model = TargetLM(TargetConfig(**ckpt["config"]))
    model.load_state_dict(ckpt["model"])
    return model


def train(cfg: TargetConfig, a: TrainArgs, log=print) -> TargetLM:
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    a.run_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = a.run_dir / "ckpt.pt"
    train_stream = np.load(a.train_tokens, mmap_mode="r")
    val_stream = np.load(a.val_tokens, mmap_mode="r")
    model = TargetLM(cfg)
    opt = make_optimizer(model, a)
    step, best = 0, math.inf
    if ckpt_path.exists():
        ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        if TargetConfig(**ckpt["config"]) != cfg:
            raise SystemExit(f"{ckpt_path}: checkpoint config {ckpt['config']} differs from {cfg.to_dict()}")
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["opt"])
        step, best = ckpt["step"], ckpt.get("best_val", math.inf)
        log(json.dumps({"event": "resume", "step": step, "best_val": best}))
    else:
        log(json.dumps({"event": "start", "params": count_params(model), "config": cfg.to_dict()}))
    rng = np.random.default_rng(a.seed + step)  # resuming does not replay the same batches
    it = batches(train_stream, a.seq_len, a.batch_size, rng)
    model.train()
    t0, tokens = time.time(), 0
    while step < a.steps:
        for group in opt.param_groups:
            group["lr"] = lr_at(step, a)
        x = torch.from_numpy(next(it))
        logits, _ = model(x[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        tokens += x[:, :-1].numel()
        if step % 25 == 0:
            elapsed = time.time() - t0
            log(json.dumps({"step": step, "loss": round(loss.item(), 4), "lr": round(lr_at(step, a), 6),
                            "tokens_per_s": round(tokens / elapsed, 1)}))
            t0, tokens = time.time(), 0
        if step % a.eval_every == 0 or step == a.steps:
            val = evaluate(model, val_stream, a)
            improved = val < best
            best = min(best, val)
            log(json.dumps({"step": step, "val_loss": round(val, 4), "val_ppl": round(math.exp(val), 2),
                            "best_val": round(best, 4)}))
            if improved:
                save_checkpoint(a.run_dir / "best.pt", model, opt, step, {"best_val": best})
        if step % a.save_every == 0 or step == a.steps:
            save_checkpoint(ckpt_path, model, opt, step, {"best_val": best})
    return model
