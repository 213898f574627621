"""Assemble and validate a Chimera model package: a folder with chimera.json, tokenizer.json, target.onnx and
(optionally) draft.onnx. The validator names the file and the problem for every defect it finds."""
from __future__ import annotations

import hashlib
import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

from .export import DRAFT_INPUTS, DRAFT_OUTPUTS, target_input_names, target_output_names
from .onnx_weights import graph_io_protos
from .templates import manifest_templates

FORMAT = "chimera-package"
FORMAT_VERSION = 1
MANIFEST = "chimera.json"

# Medusa-style static tree over the draft's per-step candidates: path [i, j] = rank i at step 1, then
# rank j at step 2. The chain of first choices goes deepest; siblings hedge the likeliest misses.
DEFAULT_TREE = [
    [0], [1], [2],
    [0, 0], [0, 1], [1, 0],
    [0, 0, 0], [0, 0, 1],
    [0, 0, 0, 0], [0, 0, 0, 1],
]


def default_tree(n_steps: int, top_k: int) -> list[list[int]]:
    """DEFAULT_TREE cut to what a draft with `n_steps` heads and `top_k` candidates can fill."""
    return [p for p in DEFAULT_TREE if len(p) <= n_steps and max(p) < top_k]


class PackageError(ValueError):
    """A package defect. The message starts with the file it concerns."""


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_entry(folder: Path, name: str) -> dict:
    path = folder / name
    return {"path": name, "sha256": sha256_of(path), "bytes": path.stat().st_size}


def draft_section(draft_cfg: dict) -> dict:
    draft = {k: draft_cfg[k] for k in ("n_steps", "top_k", "shortlist_size", "d_model", "n_heads", "d_ff")}
    draft["head_dim"] = draft_cfg["d_model"] // draft_cfg["n_heads"]
    return draft


def build_manifest(folder: Path, *, name: str, family: str, target_cfg: dict, draft_cfg: dict | None,
                   special: dict, tree: list[list[int]] | None, metrics: dict | None = None,
                   templates: dict | None = None, stop_ids: list[int] | None = None, extra: dict | None = None,
                   data_files: dict[str, str] | None = None, quantization: dict | None = None) -> dict:
    """`templates`/`stop_ids` default to this toolkit's own family; `extra` adds top-level fields (for
    example `add_bos_token`); `data_files` lists more files by role (ONNX external data)."""
    n_layers = target_cfg["n_layers"]
    files = {"tokenizer": file_entry(folder, "tokenizer.json"), "target": file_entry(folder, "target.onnx")}
    io = {"target": {"inputs": target_input_names(n_layers), "outputs": target_output_names(n_layers)}}
    draft = None
    if draft_cfg is not None:
        files["draft"] = file_entry(folder, "draft.onnx")
        io["draft"] = {"inputs": DRAFT_INPUTS, "outputs": DRAFT_OUTPUTS}
        draft = draft_section(draft_cfg)
    for role, file in (data_files or {}).items():
        files[role] = file_entry(folder, file)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": name,
        "family": family,
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "model": {
            "vocab_size": target_cfg["vocab_size"], "d_model": target_cfg["d_model"], "n_layers": n_layers,
            "n_heads": target_cfg["n_heads"], "n_kv_heads": target_cfg.get("n_kv_heads", target_cfg["n_heads"]),
            "head_dim": target_cfg.get("head_dim", target_cfg["d_model"] // target_cfg["n_heads"]),
            "max_context": target_cfg["max_seq_len"], "dtype": target_cfg.get("dtype", "float32"),
        },
        "draft": draft,
        "special_tokens": special,
        "stop_token_ids": stop_ids if stop_ids is not None else
        sorted({special["eot"]["id"], special.get("end", special["eot"])["id"]}),
        "templates": templates if templates is not None else manifest_templates(),
        "tree": {"paths": tree if tree is not None else default_tree(draft["n_steps"], draft["top_k"])}
        if draft is not None else None,
        "files": files,
        "io": io,
        "metrics": metrics or {},
        **({"quantization": quantization} if quantization else {}),
        **(extra or {}),
    }


def add_draft(folder: Path, manifest: dict, draft_cfg: dict, data_file: str | None = None,
              tree: list[list[int]] | None = None) -> dict:
    """The manifest of a package that gains (or replaces) its draft.onnx."""
    files = {k: v for k, v in manifest["files"].items() if k not in ("draft", "draft_data")}
    files["draft"] = file_entry(folder, "draft.onnx")
    if data_file is not None:
        files["draft_data"] = file_entry(folder, data_file)
    return {**manifest, "draft": draft_section(draft_cfg), "files": files,
            "io": {**manifest["io"], "draft": {"inputs": DRAFT_INPUTS, "outputs": DRAFT_OUTPUTS}},
            "tree": {"paths": tree if tree is not None else default_tree(draft_cfg["n_steps"], draft_cfg["top_k"])}}


def write_manifest(folder: Path, manifest: dict) -> None:
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")


# ---- validation ---------------------------------------------------------------------------------------
def load_manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    if not folder.is_dir():
        raise PackageError(f"{folder}: not a folder")
    if not path.is_file():
        raise PackageError(f"{path}: missing; a Chimera package needs a {MANIFEST} manifest")
    try:
        manifest = json.loads(path.read_text())
    except ValueError as err:
        raise PackageError(f"{path}: not valid JSON ({err})") from None
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise PackageError(f"{path}: unsupported format {manifest.get('format')!r} version "
                           f"{manifest.get('format_version')!r} (expected {FORMAT} {FORMAT_VERSION})")
    return manifest


def check_files(folder: Path, manifest: dict) -> None:
    for role, entry in manifest["files"].items():
        path = folder / entry["path"]
        if not path.is_file():
            raise PackageError(f"{path}: missing ({role} file listed in {MANIFEST})")
        digest = sha256_of(path)
        if digest != entry["sha256"]:
            raise PackageError(f"{path}: sha256 mismatch: the manifest says {entry['sha256'][:12]}…, the file is "
                               f"{digest[:12]}… (corrupt or replaced)")


def graph_io(path: Path) -> tuple[dict[str, list], dict[str, list]]:
    try:
        inputs, outputs = graph_io_protos(path)
    except Exception as err:  # a damaged protobuf fails in several ways
        raise PackageError(f"{path}: not a readable ONNX model ({err})") from None

    def dims(values):
        return {v.name: [d.dim_value if d.HasField("dim_value") else d.dim_param
                         for d in v.type.tensor_type.shape.dim] for v in values}

    return dims(inputs), dims(outputs)


def check_names(path: Path, kind: str, expected: list[str], actual: dict) -> None:
    if list(actual) != expected:
        missing = [n for n in expected if n not in actual]
        extra = [n for n in actual if n not in expected]
        raise PackageError(f"{path}: {kind} names disagree with {MANIFEST}: missing {missing}, unexpected {extra}")


def check_dim(path: Path, what: str, actual, expected: int) -> None:
    if actual != expected:
        raise PackageError(f"{path}: {what} is {actual} in the graph but {expected} in {MANIFEST}")


def check_target(folder: Path, manifest: dict) -> None:
    path = folder / manifest["files"]["target"]["path"]
    m = manifest["model"]
    inputs, outputs = graph_io(path)
    check_names(path, "input", manifest["io"]["target"]["inputs"], inputs)
    check_names(path, "output", manifest["io"]["target"]["outputs"], outputs)
    n_past = sum(1 for n in inputs if n.startswith("past_key_values.")) // 2
    check_dim(path, "the number of layers (past_key_values pairs)", n_past, m["n_layers"])
    check_dim(path, "logits vocabulary dimension", outputs["logits"][-1], m["vocab_size"])
    check_dim(path, "last_hidden_state width", outputs["last_hidden_state"][-1], m["d_model"])
    check_dim(path, "past key heads", inputs["past_key_values.0.key"][2], m["n_kv_heads"])
    check_dim(path, "past key head size", inputs["past_key_values.0.key"][3], m["head_dim"])


def check_draft(folder: Path, manifest: dict) -> None:
    if manifest.get("draft") is None:
        return
    path = folder / manifest["files"]["draft"]["path"]
    d = manifest["draft"]
    inputs, outputs = graph_io(path)
    check_names(path, "input", manifest["io"]["draft"]["inputs"], inputs)
    check_names(path, "output", manifest["io"]["draft"]["outputs"], outputs)
    check_dim(path, "hidden_states width", inputs["hidden_states"][-1], manifest["model"]["d_model"])
    check_dim(path, "draft steps", outputs["draft_tokens"][1], d["n_steps"])
    check_dim(path, "draft candidates per step", outputs["draft_tokens"][2], d["top_k"])
    for path_ in manifest["tree"]["paths"]:
        if len(path_) > d["n_steps"] or max(path_) >= d["top_k"]:
            raise PackageError(f"{folder / MANIFEST}: tree path {path_} needs more steps or candidates than the draft has")


def check_tokenizer(folder: Path, manifest: dict) -> None:
    from tokenizers import Tokenizer

    path = folder / manifest["files"]["tokenizer"]["path"]
    try:
        tok = Tokenizer.from_file(str(path))
    except Exception as err:
        raise PackageError(f"{path}: not a loadable tokenizer ({err})") from None
    if tok.get_vocab_size() > manifest["model"]["vocab_size"]:
        raise PackageError(f"{path}: vocabulary of {tok.get_vocab_size()} exceeds the model's {manifest['model']['vocab_size']}")
    for name, entry in manifest["special_tokens"].items():
        actual = tok.token_to_id(entry["text"])
        if actual != entry["id"]:
            raise PackageError(f"{path}: special token {name} {entry['text']!r} has id {actual}, the manifest says {entry['id']}")


def check_prompt_fields(folder: Path, manifest: dict) -> None:
    """Optional fields of converted packages: a BOS token to prepend needs its id."""
    if manifest.get("add_bos_token") and "bos" not in manifest["special_tokens"]:
        raise PackageError(f"{folder / MANIFEST}: add_bos_token is set but special_tokens has no bos")


def validate_package(folder: Path) -> dict:
    folder = Path(folder)
    manifest = load_manifest(folder)
    check_prompt_fields(folder, manifest)
    check_files(folder, manifest)
    check_tokenizer(folder, manifest)
    check_target(folder, manifest)
    check_draft(folder, manifest)
    return manifest


def assemble(out: Path, *, tokenizer: Path, target_onnx: Path, draft_onnx: Path | None, **manifest_kw) -> dict:
    """Copy the pieces into `out`, write the manifest, validate the result, and return the manifest."""
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(tokenizer, out / "tokenizer.json")
    if target_onnx.resolve() != (out / "target.onnx").resolve():
        shutil.copyfile(target_onnx, out / "target.onnx")
    if draft_onnx is not None and draft_onnx.resolve() != (out / "draft.onnx").resolve():
        shutil.copyfile(draft_onnx, out / "draft.onnx")
    manifest = build_manifest(out, **manifest_kw)
    write_manifest(out, manifest)
    return validate_package(out)
