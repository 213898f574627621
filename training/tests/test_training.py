"""Training loops: the target learns, checkpoints resume where they stopped, the draft learns the target."""
import json

import numpy as np
import torch

from chimera_train.draft import DraftConfig
from chimera_train.model import TargetConfig
from chimera_train.train_draft import DraftTrainArgs, train_draft
from chimera_train.train_target import TrainArgs, load_model, train

CFG = TargetConfig(vocab_size=32, d_model=32, n_layers=2, n_heads=2, d_ff=64, max_seq_len=64)


def pattern_stream(n: int, seed: int) -> np.ndarray:
    motif_rng, rng = np.random.default_rng(99), np.random.default_rng(seed)  # same motifs, new order
    motifs = [motif_rng.integers(10, 32, size=7) for _ in range(4)]
    return np.concatenate([motifs[i] for i in rng.integers(0, 4, size=n // 7)]).astype(np.uint16)


def run_args(tmp_path, steps):
    np.save(tmp_path / "train.npy", pattern_stream(20000, 0))
    np.save(tmp_path / "val.npy", pattern_stream(4000, 1))
    return TrainArgs(run_dir=tmp_path / "run", train_tokens=tmp_path / "train.npy", val_tokens=tmp_path / "val.npy",
                     steps=steps, batch_size=8, seq_len=32, lr=3e-3, warmup=10, eval_every=40, save_every=20,
                     eval_batches=2, threads=1)


def test_target_learns_and_resumes(tmp_path):
    lines = []
    train(CFG, run_args(tmp_path, 40), log=lines.append)
    train(CFG, run_args(tmp_path, 120), log=lines.append)
    events = [json.loads(l) for l in lines]
    assert {"event": "resume", "step": 40} == {k: events[[e.get("event") for e in events].index("resume")][k]
                                               for k in ("event", "step")}
    vals = [e["val_loss"] for e in events if "val_loss" in e]
    assert vals[-1] < vals[0] - 0.5, vals
    assert all(e["tokens_per_s"] > 0 for e in events if "tokens_per_s" in e)
    assert torch.load(tmp_path / "run" / "ckpt.pt", weights_only=False)["step"] == 120
    assert load_model(tmp_path / "run" / "best.pt").cfg == CFG


def test_draft_distillation_improves_accuracy(tmp_path):
    train(CFG, run_args(tmp_path, 150), log=lambda _: None)
    target = load_model(tmp_path / "run" / "ckpt.pt")
    lines = []
    dcfg = DraftConfig.for_target(CFG, n_steps=4, top_k=2)
    a = DraftTrainArgs(run_dir=tmp_path / "draft", steps=60, batch_size=8, seq_len=32, lr=3e-3, warmup=5,
                       eval_every=30, eval_batches=2, threads=1)
    stream = pattern_stream(20000, 0)
    train_draft(target, dcfg, stream, pattern_stream(4000, 1), a, log=lines.append)
    accs = [json.loads(l)["val_accuracy"]["top1"] for l in lines if "val_accuracy" in l]
    assert len(accs[-1]) == 4
    assert np.mean(accs[-1]) > 0.5, accs  # the motifs are predictable once a step is inside one
    assert (tmp_path / "draft" / "draft_ckpt.pt").exists()


def test_draft_run_stops_at_a_step_and_resumes_on_the_same_schedule(tmp_path):
    train(CFG, run_args(tmp_path, 40), log=lambda _: None)
    target = load_model(tmp_path / "run" / "ckpt.pt")
    dcfg = DraftConfig.for_target(CFG, n_steps=2, top_k=2)
    stream = pattern_stream(8000, 0)

    def run(stop_at):
        a = DraftTrainArgs(run_dir=tmp_path / "draft", steps=20, batch_size=4, seq_len=16, lr=3e-3, warmup=2,
                           eval_every=50, eval_batches=1, threads=1, stop_at=stop_at)
        lines = []
        train_draft(target, dcfg, stream, pattern_stream(2000, 1), a, log=lines.append)
        return lines

    run(10)
    assert torch.load(tmp_path / "draft" / "draft_ckpt.pt", weights_only=False)["step"] == 10
    lines = run(None)
    assert torch.load(tmp_path / "draft" / "draft_ckpt.pt", weights_only=False)["step"] == 20
    assert [json.loads(l)["step"] for l in lines if "val_accuracy" in l] == [20], lines
