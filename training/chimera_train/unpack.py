"""Recover training checkpoints from a chimera-tiny package (`unpack`).

Checkpoints (`runs/`) are not committed, but the package's ONNX files hold every trained weight under its
module name. Reading them back lets a later run continue distilling the draft, or re-export the target in a
new graph layout, from exactly the model that ships, without the hours of retraining.
"""
from __future__ import annotations

import json
from pathlib import Path

import onnx
import torch
from onnx import numpy_helper

from .draft import DraftConfig, build_draft
from .model import TargetConfig, TargetLM
from .train_draft import save_draft


def _weights(path: Path, prefix: str) -> dict[str, torch.Tensor]:
    model = onnx.load(str(path))
    return {i.name[len(prefix):]: torch.from_numpy(numpy_helper.to_array(i).copy())
            for i in model.graph.initializer if i.name.startswith(prefix)}


def target_from_package(folder: Path) -> TargetLM:
    manifest = json.loads((folder / "chimera.json").read_text())
    if manifest.get("family") != "chimera-tiny":
        raise ValueError(f"{folder}: unpack reads chimera-tiny packages only (this one is {manifest.get('family')})")
    m = manifest["model"]
    weights = _weights(folder / manifest["files"]["target"]["path"], "model.")
    d_ff = weights["blocks.0.mlp.down.weight"].shape[1]
    cfg = TargetConfig(vocab_size=m["vocab_size"], d_model=m["d_model"], n_layers=m["n_layers"], n_heads=m["n_heads"],
                       d_ff=d_ff, max_seq_len=m["max_context"])
    target = TargetLM(cfg)
    target.load_state_dict(weights)
    return target


def draft_state_from_package(folder: Path) -> tuple[DraftConfig, dict[str, torch.Tensor]]:
    manifest = json.loads((folder / "chimera.json").read_text())
    d = manifest["draft"]
    cfg = DraftConfig(d_model=d["d_model"], n_heads=d["n_heads"], d_ff=d["d_ff"], n_steps=d["n_steps"],
                      top_k=d["top_k"], shortlist_size=d["shortlist_size"])
    weights = _weights(folder / manifest["files"]["draft"]["path"], "draft.")
    weights.pop("frozen_head", None)  # the shortlist's rows of the LM head, re-derived from the target
    return cfg, {k: v for k, v in weights.items() if not k.startswith("embed.")}


def unpack(folder: Path, out: Path) -> dict:
    """Writes out/target/best.pt and, when the package has a draft, out/draft/draft_ckpt.pt."""
    target = target_from_package(folder)
    (out / "target").mkdir(parents=True, exist_ok=True)
    torch.save({"model": target.state_dict(), "config": target.cfg.to_dict(), "step": 0}, out / "target" / "best.pt")
    written = {"target": str(out / "target" / "best.pt")}
    manifest = json.loads((folder / "chimera.json").read_text())
    if manifest.get("draft"):
        cfg, state = draft_state_from_package(folder)
        draft = build_draft(target, cfg, state["shortlist"])
        draft.load_state_dict(state, strict=False)
        (out / "draft").mkdir(parents=True, exist_ok=True)
        save_draft(out / "draft" / "draft_ckpt.pt", draft, None, 0)
        written["draft"] = str(out / "draft" / "draft_ckpt.pt")
    return written
