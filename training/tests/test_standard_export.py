"""Standard-layout exports (graph_standard.py) of tiny random Qwen2 and Llama checkpoints: their greedy
output, decoded step by step on the exported KV cache, equals transformers' own greedy output."""
import json

import numpy as np
import onnxruntime as ort
import pytest
import torch

from chimera_train.checkpoint import load_target
from chimera_train.graph_standard import export_standard
from chimera_train.tiny_hf import build_checkpoint


def greedy_onnx(path, layout, cfg, prompt, steps):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = {i.name for i in session.get_inputs()}
    assert ("position_ids" in names) == (layout == "optimum")
    past = {f"past_key_values.{i}.{p}": np.zeros((1, cfg.n_kv_heads, 0, cfg.head_dim), np.float32)
            for i in range(cfg.n_layers) for p in ("key", "value")}
    tokens, out = list(prompt), []
    new = list(prompt)
    for _ in range(steps):
        total = len(tokens)
        feeds = {"input_ids": np.array([new], np.int64), "attention_mask": np.ones((1, total), np.int64), **past}
        if layout == "optimum":
            feeds["position_ids"] = np.arange(total - len(new), total, dtype=np.int64)[None]
        results = dict(zip([o.name for o in session.get_outputs()], session.run(None, feeds)))
        assert results["present.0.key"].shape[2] == total  # the whole cache comes back
        past = {k: results[k.replace("past_key_values", "present")] for k in past}
        nxt = int(results["logits"][0, -1].argmax())
        out.append(nxt)
        tokens.append(nxt)
        new = [nxt]
    return out


@pytest.mark.parametrize("family", ["qwen2", "llama"])
@pytest.mark.parametrize("layout", ["optimum", "genai"])
def test_standard_layouts_decode_like_transformers(tmp_path, family, layout):
    hf = build_checkpoint(family, tmp_path / "ckpt")
    target = load_target(tmp_path / "ckpt")
    graph = export_standard(target, tmp_path / "ckpt", tmp_path / "out", layout)
    prompt = [5, 17, 42, 99, 7, 3]
    with torch.no_grad():
        ref = hf.generate(torch.tensor([prompt]), max_new_tokens=12, do_sample=False, min_new_tokens=12)[0, len(prompt):].tolist()
    assert greedy_onnx(graph, layout, target.cfg, prompt, 12) == ref
    if layout == "genai":
        cfg = json.loads((tmp_path / "out" / "genai_config.json").read_text())
        assert cfg["model"]["decoder"]["num_key_value_heads"] == target.cfg.n_kv_heads
    else:
        assert (tmp_path / "out" / "onnx" / "model.onnx").is_file() and (tmp_path / "out" / "config.json").is_file()
