"""Convert a Hugging Face checkpoint folder (Llama, Qwen2 or Mistral architecture) into a Chimera package:
target.onnx with the engine's I/O contract, the model's tokenizer.json, chimera.json with the family's
templates and special tokens, and verify.json (reference cases for `chimera verify`).

The package has no draft yet; the engine runs it with n-gram drafting until `train-draft-hf` adds one.
"""
from __future__ import annotations

import gc
import json
import shutil
import time
from pathlib import Path
from typing import Callable

import torch

from .checkpoint import fingerprint, load_target, read_config
from .export import export_target
from .families import family_templates
from .hf_model import ConversionError, HFTarget
from .onnx_weights import EXTERNAL_THRESHOLD, weight_bytes
from .lookup import HOST_LOOKUP_INPUT, lookup_spec
from .package import build_manifest, graph_io, validate_package, write_manifest
from .verify_cases import case_inputs, compact_expected, fill_expected, write_cases

PROTOBUF_LIMIT = 2_000_000_000
# fp32 graphs match the torch module to ~1e-6; fp16 ones differ by rounding that grows with logit size.
TOLERANCE = {"fp32": 1e-4, "fp16": 5e-2}
# Quantized graphs are not within any tolerance of the fp32 module; `chimera verify` reports how often
# their greedy token agrees with it instead, and fails below these rates (measured on random tiny models,
# whose logits sit closer together than a trained model's, so real models agree more).
QUANT_BITS = {"int8": 8, "int4": 4}
# Input features per scale, chosen by measurement (README, "Real-size models"): int8 keeps 98.7-99.0 % top-1
# agreement with fp32 at every block size on the trained default model, and blocks of 128 decode the 0.5B
# shape 18 % faster than blocks of 32; int4 loses agreement as blocks grow (90.5 % at 32, 88.3 % at 128),
# so it keeps 32, which still decodes faster than llama.cpp's Q4_K_M here.
QUANT_BLOCK = {"int8": 128, "int4": 32}
MIN_AGREEMENT = {"int8": 0.9, "int4": 0.6}
STALE = ("target.onnx", "target.onnx.data", "draft.onnx", "draft.onnx.data", "chimera.json", "verify.json")


def read_tokenizer(checkpoint: Path) -> tuple[Path, dict]:
    path = checkpoint / "tokenizer.json"
    if not path.is_file():
        raise ConversionError(f"{path}: missing; the package needs the model's fast tokenizer (tokenizer.json)")
    try:
        return path, json.loads(path.read_text())
    except ValueError as err:
        raise ConversionError(f"{path}: not valid JSON ({err})") from None


def use_external_data(choice: str, size: int) -> bool:
    if choice == "auto":
        return size > EXTERNAL_THRESHOLD
    if choice == "no" and size > PROTOBUF_LIMIT:
        raise ConversionError(f"the weights take {size / 1e9:.1f} GB, over protobuf's 2 GB limit for one .onnx "
                              "file; use --external-data auto or yes")
    return choice == "yes"


def reference_forward(target: HFTarget) -> Callable[[list[int]], tuple[torch.Tensor, torch.Tensor]]:
    def forward(ids: list[int]):
        logits, hidden = target(torch.tensor([ids]))
        return logits[0], hidden[0]
    return forward


def convert(checkpoint: Path, out: Path, *, dtype: str = "fp32", external: str = "auto", name: str | None = None,
            chat_format: str | None = None, quant: str | None = None, quant_block: int | None = None,
            head_part_bytes: int | None = None, log: Callable[[str], None] = print) -> dict:
    """`quant` (int8 or int4) stores every linear layer and the LM head as weight-only quantized blocks
    (onnxruntime's MatMulNBits); the weights are read in fp32 first. `head_part_bytes` overrides the size of
    the LM head's row parts (graph_target.HEAD_PART_BYTES; quantized external data only)."""
    checkpoint, out = Path(checkpoint), Path(out)
    started = time.time()
    if quant is not None and (quant not in QUANT_BITS or dtype != "fp32"):
        raise ConversionError(f"--quant takes {' or '.join(QUANT_BITS)}, from fp32 weights (got {quant} with {dtype})")
    cfg = read_config(checkpoint)  # cheap checks first, before any weight is read
    tok_path, tok_json = read_tokenizer(checkpoint)
    fam = family_templates(cfg.family, tok_json, chat_format)
    target = load_target(checkpoint, dtype, progress=lambda shard: log(json.dumps({"event": "loaded", "shard": shard.name})))
    size, target_cfg = weight_bytes(target), target.cfg.to_dict()
    external_data = use_external_data(external, size)
    out.mkdir(parents=True, exist_ok=True)
    for stale in STALE:
        (out / stale).unlink(missing_ok=True)
    quantization = quant_spec(quant, quant_block or QUANT_BLOCK.get(quant or "", 32))
    export_target(target, out / "target.onnx", external_data, quant=quantization, head_part_bytes=head_part_bytes)
    log(json.dumps({"event": "exported", "file": "target.onnx", "external_data": external_data, "quant": quant,
                    "weights_bytes": size, "seconds": round(time.time() - started, 1)}))
    cases = fill_expected(case_inputs(min(cfg.vocab_size, _tokenizer_size(tok_json))), reference_forward(target))
    if quant is None:
        write_cases(out / "verify.json", compact_expected(cases), TOLERANCE[dtype],
                    note=f"expected values from the converter's torch module in {dtype}")
    else:
        write_cases(out / "verify.json", compact_expected(cases), None, min_agreement=MIN_AGREEMENT[quant],
                    note=f"expected values from the unquantized fp32 module; the {quant} package is checked "
                         "by how often its greedy token agrees")
    if quant is not None:
        target_cfg["dtype"] = quant
    del target
    gc.collect()  # the module is the one copy of the weights; drop it before validation reads the graph
    shutil.copyfile(tok_path, out / "tokenizer.json")
    manifest = build_manifest(
        out, name=name or checkpoint.resolve().name, family=cfg.family, target_cfg=target_cfg, draft_cfg=None,
        special=fam.special, tree=None, templates=fam.templates, stop_ids=fam.stop_ids,
        extra={"add_bos_token": fam.add_bos, "source": {"architecture": cfg.architecture,
                                                        "chat_format": fam.chat_format, "checkpoint": checkpoint.name,
                                                        "fingerprint": fingerprint(checkpoint)}},
        data_files={"target_data": "target.onnx.data"} if external_data else None,
        metrics={"conversion_seconds": round(time.time() - started, 1), "weights_bytes": size},
        quantization=quantization_record(quantization))
    if HOST_LOOKUP_INPUT in graph_io(out / "target.onnx")[0]:
        manifest["io"]["target"]["inputs"].append(HOST_LOOKUP_INPUT)
        manifest["quantization"]["embedding_lookup"] = lookup_spec(out / "target.onnx")
    write_manifest(out, manifest)
    validate_package(out)
    log(json.dumps({"event": "packaged", "out": str(out), "family": cfg.family, "chat_format": fam.chat_format,
                    "fim": manifest["templates"]["fim"] is not None, "seconds": round(time.time() - started, 1)}))
    return manifest


def quant_spec(quant: str | None, block: int = 32):
    from .onnx_build import Quant

    if block not in (16, 32, 64, 128, 256):
        raise ConversionError(f"--quant-block must be 16, 32, 64, 128 or 256 (got {block})")
    return None if quant is None else Quant(QUANT_BITS[quant], block)


def quantization_record(q) -> dict | None:
    """What the manifest says about a quantized target (and the engine reports)."""
    if q is None:
        return None
    return {"method": "weight-only blocks (MatMulNBits)", "bits": q.bits, "block_size": q.block,
            "accuracy_level": q.accuracy_level, "layers": "every linear layer and the LM head"}


def _tokenizer_size(tok_json: dict) -> int:
    vocab = tok_json.get("model", {}).get("vocab", {})
    return max(1, len(vocab))
