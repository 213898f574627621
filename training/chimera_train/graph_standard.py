"""Standard ONNX LLM exports, for testing the engine's adapters without downloads: a Hugging Face
checkpoint written in the layout of the exports people already have.

- `optimum`: the Optimum / transformers.js layout onnx-community publishes (`onnx/model.onnx` beside
  config.json, generation_config.json and the tokenizer files). Inputs input_ids, attention_mask,
  position_ids and past_key_values.{i}.key/.value [1, Hkv, P, Dh]; outputs logits [1, T, V] and
  present.{i}.key/.value [1, Hkv, P+T, Dh] (the whole cache, past included).
- `genai`: onnxruntime-genai's model builder layout (`model.onnx` and genai_config.json): the same without
  position_ids (positions follow from the attention mask), names declared in genai_config.json.

Attention is onnxruntime's GroupQueryAttention, as those exports use it. There is no hidden-state output
and no tree mask: the engine runs such graphs autoregressively and with prompt lookup verified as chains.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

from .graph_target import Layers, _embedding, _mlp, describe
from .onnx_build import MS, Graph, Quant, rope_tables


def build_standard_graph(desc: Layers, layout: str, quant: Quant | None = None, hidden_output: bool = False) -> Graph:
    g = Graph(f"{layout}_decoder")
    h_kv, dh = desc.kv_heads, desc.head_dim
    g.input("input_ids", "int64", [1, "T"])
    g.input("attention_mask", "int64", [1, "S"])
    positions = g.input("position_ids", "int64", [1, "T"]) if layout == "optimum" else ""
    for i in range(len(desc.layers)):
        for part in ("key", "value"):
            g.input(f"past_key_values.{i}.{part}", "float32", [1, h_kv, "P", dh])
    cos, sin = rope_tables(desc.max_positions, dh, 0.0, inv_freq=desc.inv_freq.float())
    rope = (g.weight("rope.cos", cos), g.weight("rope.sin", sin))
    # seqlens_k (tokens seen minus one) and the total length, as GroupQueryAttention takes them (int32)
    seen = g.op("ReduceSum", "attention_mask", g.const([1]), keepdims=0)
    seqlens = g.op("Cast", g.op("Sub", seen, g.const([1])), to=6)
    total = g.op("Cast", g.op("Squeeze", g.op("Shape", "attention_mask", start=1, end=2), g.const([0])), to=6)
    x = _embedding(g, desc, quant)
    pending = None
    for i, layer in enumerate(desc.layers):
        normed, x = g.block_input(pending, x, f"l{i}.attn_norm", layer.attn_norm, desc.eps)
        qkv = g.linear(normed, f"l{i}.qkv", layer.qkv.detach(), quant, layer.qkv_bias)
        attn, pk, pv = g.op("GroupQueryAttention", qkv, "", "", f"past_key_values.{i}.key", f"past_key_values.{i}.value",
                            seqlens, total, *rope, positions, outputs=3, domain=MS, num_heads=desc.heads,
                            kv_num_heads=h_kv, do_rotary=1, rotary_interleaved=0)
        g.output(pk, f"present.{i}.key", "float32", [1, h_kv, "S", dh])
        g.output(pv, f"present.{i}.value", "float32", [1, h_kv, "S", dh])
        out = g.linear(attn, f"l{i}.out", layer.out.detach(), quant, layer.out_bias)
        normed, x = g.add_rms_norm(out, x, f"l{i}.mlp_norm", layer.mlp_norm, desc.eps)
        pending = _mlp(g, layer, i, normed, quant)
    hidden, _ = g.add_rms_norm(pending, x, "final_norm", desc.final_norm, desc.eps)
    if desc.head is desc.embed and quant is None:
        logits = g.op("FusedMatMul", hidden, "embed", domain=MS, transB=1)
    else:
        logits = g.linear(hidden, "lm_head", desc.head.detach(), quant)
    g.output(logits, "logits", "float32", [1, "T", desc.vocab])
    if hidden_output:
        g.output(hidden, "last_hidden_state", "float32", [1, "T", desc.width])
    order = ["logits"] + [f"present.{i}.{p}" for i in range(len(desc.layers)) for p in ("key", "value")] + ["last_hidden_state"]
    g.outputs.sort(key=lambda o: order.index(o.name))
    return g


def export_standard(model, checkpoint: Path, out: Path, layout: str, quant: Quant | None = None) -> Path:
    """Writes `out` as a model folder of `layout` (optimum or genai) for the HF `model` read from
    `checkpoint` (its config, generation config and tokenizer files are copied beside the graph)."""
    if layout not in ("optimum", "genai"):
        raise ValueError(f"layout must be optimum or genai (got {layout!r})")
    desc = describe(model)
    out.mkdir(parents=True, exist_ok=True)
    graph_path = out / "onnx" / "model.onnx" if layout == "optimum" else out / "model.onnx"
    with torch.no_grad():
        build_standard_graph(desc, layout, quant).save(graph_path)
    for name in ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"):
        if (checkpoint / name).is_file():
            shutil.copyfile(checkpoint / name, out / name)
    if layout == "genai":
        (out / "genai_config.json").write_text(json.dumps(genai_config(model, checkpoint), indent=2) + "\n")
    return graph_path


def genai_config(model, checkpoint: Path) -> dict:
    """The subset of onnxruntime-genai's genai_config.json the engine reads, as its model builder writes it."""
    cfg = json.loads((checkpoint / "config.json").read_text())
    c = model.cfg
    eos = cfg.get("eos_token_id")
    return {
        "model": {
            "bos_token_id": cfg.get("bos_token_id"), "eos_token_id": eos, "pad_token_id": cfg.get("pad_token_id", eos),
            "context_length": c.max_seq_len, "type": cfg.get("model_type", "qwen2"), "vocab_size": c.vocab_size,
            "decoder": {
                "filename": "model.onnx", "head_size": c.head_dim, "hidden_size": c.d_model,
                "num_attention_heads": c.n_heads, "num_key_value_heads": c.n_kv_heads, "num_hidden_layers": c.n_layers,
                "inputs": {"input_ids": "input_ids", "attention_mask": "attention_mask",
                           "past_key_names": "past_key_values.%d.key", "past_value_names": "past_key_values.%d.value"},
                "outputs": {"logits": "logits", "present_key_names": "present.%d.key",
                            "present_value_names": "present.%d.value"},
            },
        },
        "search": {"max_length": c.max_seq_len, "past_present_share_buffer": False, "do_sample": False},
    }
