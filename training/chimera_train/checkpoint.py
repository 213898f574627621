"""Reading a Hugging Face checkpoint folder into HFTarget with bounded memory.

The module is built on the meta device (no storage), then every tensor is read from its safetensors shard
one at a time, cast to the export dtype and put in place. Peak memory is one copy of the weights in that
dtype plus one tensor in flight, never the checkpoint and the module side by side.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from torch import nn

from .hf_model import ConversionError, HFTarget, HFTargetConfig, parse_config

INDEX = "model.safetensors.index.json"
SINGLE = "model.safetensors"
DTYPES = {"fp32": torch.float32, "fp16": torch.float16}
# Tensors some checkpoints carry that the model recomputes or does not use.
IGNORED_SUFFIXES = (".rotary_emb.inv_freq",)


def read_config(folder: Path) -> HFTargetConfig:
    path = folder / "config.json"
    if not path.is_file():
        raise ConversionError(f"{path}: missing; a Hugging Face checkpoint folder needs config.json")
    try:
        raw = json.loads(path.read_text())
    except ValueError as err:
        raise ConversionError(f"{path}: not valid JSON ({err})") from None
    try:
        return parse_config(raw, str(path))
    except KeyError as err:
        raise ConversionError(f"{path}: missing field {err.args[0]!r}") from None


def weight_map(folder: Path) -> dict[str, Path]:
    """Tensor name -> the shard that holds it, checking that every listed shard exists."""
    index = folder / INDEX
    if index.is_file():
        try:
            names = json.loads(index.read_text())["weight_map"]
        except (ValueError, KeyError) as err:
            raise ConversionError(f"{index}: not a safetensors index ({err})") from None
        mapping = {name: folder / shard for name, shard in names.items()}
        for shard in sorted(set(mapping.values())):
            if not shard.is_file():
                count = sum(1 for s in mapping.values() if s == shard)
                raise ConversionError(f"{shard}: missing shard ({count} tensors listed in {INDEX})")
        return mapping
    single = folder / SINGLE
    if single.is_file():
        from safetensors import safe_open

        with safe_open(str(single), framework="pt") as f:
            return {name: single for name in f.keys()}
    if any(folder.glob("*.bin")) or any(folder.glob("*.pth")):
        raise ConversionError(f"{folder}: only safetensors weights are read; this checkpoint has PyTorch .bin/.pth "
                              "files (load it with transformers and save_pretrained() it to get safetensors)")
    raise ConversionError(f"{folder}: no {SINGLE} or {INDEX}")


def checkpoint_name(param: str) -> str:
    """HFTarget parameter name -> the checkpoint's tensor name."""
    return "lm_head." + param[len("head."):] if param.startswith("head.") else param


def expected_shapes(model: HFTarget) -> dict[str, torch.Size]:
    return {checkpoint_name(name): p.shape for name, p in model.named_parameters()}


def check_names(folder: Path, cfg: HFTargetConfig, mapping: dict[str, Path], shapes: dict[str, torch.Size]) -> None:
    missing = sorted(set(shapes) - set(mapping))
    if missing:
        raise ConversionError(f"{folder}: the checkpoint lacks {len(missing)} tensor(s) that config.json implies, "
                              f"e.g. {missing[:3]}")
    extra = [n for n in mapping if n not in shapes and not n.endswith(IGNORED_SUFFIXES)
             and not (cfg.tie_embeddings and n == "lm_head.weight")]
    if extra:
        raise ConversionError(f"{folder}: the checkpoint has {len(extra)} tensor(s) this architecture does not use, "
                              f"e.g. {sorted(extra)[:3]} (a variant the converter does not support?)")


def _put(model: nn.Module, name: str, tensor: torch.Tensor) -> None:
    owner, _, leaf = name.rpartition(".")
    setattr(model.get_submodule(owner), leaf, nn.Parameter(tensor, requires_grad=False))


def load_target(folder: Path, dtype: str = "fp32", progress=None) -> HFTarget:
    """Builds the target from `folder` (config.json + safetensors) in `dtype`, one tensor at a time."""
    from safetensors import safe_open

    folder = Path(folder)
    if dtype not in DTYPES:
        raise ConversionError(f"dtype {dtype!r} is not supported (choose {', '.join(DTYPES)})")
    cfg = read_config(folder)
    cfg.dtype = {"fp32": "float32", "fp16": "float16"}[dtype]
    with torch.device("meta"):
        model = HFTarget(cfg)
    shapes = expected_shapes(model)
    params = {checkpoint_name(name): name for name, _ in model.named_parameters()}
    mapping = weight_map(folder)
    check_names(folder, cfg, mapping, shapes)
    by_shard: dict[Path, list[str]] = {}
    for name in shapes:
        by_shard.setdefault(mapping[name], []).append(name)
    for shard, names in sorted(by_shard.items()):
        with safe_open(str(shard), framework="pt") as f:
            for name in names:
                tensor = f.get_slice(name)
                shape = tuple(tensor.get_shape())
                if shape != tuple(shapes[name]):
                    raise ConversionError(f"{shard}: tensor {name} has shape {list(shape)}, but config.json "
                                          f"implies {list(shapes[name])}")
                _put(model, params[name], f.get_tensor(name).to(DTYPES[dtype]))
        if progress is not None:
            progress(shard)
    return model.eval()


def fingerprint(folder: Path) -> str:
    """A short hash of a few of the checkpoint's own values (final norm, first embedding rows), recorded at
    conversion so that a draft is never trained against a different checkpoint than its package's target.
    Reading them raw makes it independent of the export dtype."""
    from safetensors import safe_open

    mapping = weight_map(Path(folder))
    h = hashlib.sha256()
    for name in ("model.norm.weight", "model.embed_tokens.weight"):
        if name not in mapping:
            raise ConversionError(f"{folder}: the checkpoint has no tensor {name}")
        with safe_open(str(mapping[name]), framework="pt") as f:
            h.update(f.get_slice(name)[:4].float().numpy().tobytes())
    return h.hexdigest()[:16]
