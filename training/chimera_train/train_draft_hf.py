"""Train the Chimera draft of a converted Hugging Face target and add it to the package.

The corpus is the user's: a folder of text/code files or a JSONL file with a "text" field per line. It is
tokenized once with the package's tokenizer (literally: special-token strings in code stay text), each
document framed as [BOS] text EOT, and cached in the run folder. Training is the toolkit's distillation
(train_draft.py) against the target loaded in fp32, on CUDA when available; it resumes from the run
folder. The draft is then exported into the package, the manifest updated, and the package validated.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from .checkpoint import fingerprint, load_target
from .draft import DraftConfig
from .export import export_draft
from .onnx_build import draft_quant
from .hf_model import ConversionError
from .onnx_weights import EXTERNAL_THRESHOLD, weight_bytes
from .package import add_draft, load_manifest, validate_package, write_manifest
from .train_draft import DraftTrainArgs, train_draft

SKIP_DIRS = {".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", "dist", "build"}
MAX_FILE_BYTES = 1_000_000  # larger files are usually data or generated code
VAL_FRACTION = 0.03


@dataclass
class HFDraftArgs:
    run_dir: Path
    steps: int = 2000
    batch_size: int = 8
    seq_len: int = 256
    lr: float = 2e-3
    n_steps: int = 4
    top_k: int = 4
    shortlist: int = 8192
    d_ff: int | None = None
    eval_every: int = 250
    eval_batches: int = 8
    threads: int = 2
    device: str = "auto"


def corpus_documents(path: Path) -> Iterator[tuple[str, str]]:
    """(key, text) for every document: files of a folder (UTF-8 text only), or lines of a JSONL file."""
    if path.is_dir():
        for file in sorted(p for p in path.rglob("*") if p.is_file() and not SKIP_DIRS & set(p.relative_to(path).parts)):
            data = file.read_bytes()[:MAX_FILE_BYTES]
            if b"\0" in data:
                continue  # binary
            try:
                yield str(file.relative_to(path)), data.decode("utf-8")
            except UnicodeDecodeError:
                continue
    elif path.is_file():
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    text = json.loads(line)["text"]
                except (ValueError, KeyError, TypeError):
                    raise ConversionError(f"{path}:{n}: expected a JSON object with a \"text\" field") from None
                yield f"{path.name}:{n}", text
    else:
        raise ConversionError(f"{path}: corpus not found (give a folder of files or a .jsonl file)")


def is_validation(key: str) -> bool:
    """A stable split by document, so adding documents never moves old ones between the splits."""
    return int(hashlib.sha1(key.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < VAL_FRACTION


def tokenize_corpus(path: Path, tokenizer_path: Path, eot: int, bos: int | None, min_tokens: int) -> tuple[np.ndarray, np.ndarray]:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_path))
    tok.encode_special_tokens = True  # code that contains "<|im_end|>" is text, as the engine encodes it
    splits: dict[bool, list[np.ndarray]] = {False: [], True: []}
    for key, text in corpus_documents(path):
        ids = ([bos] if bos is not None else []) + tok.encode(text, add_special_tokens=False).ids + [eot]
        splits[is_validation(key)].append(np.asarray(ids, dtype=np.uint32))
    train, val = splits[False], splits[True]
    while sum(map(len, val)) < min_tokens and len(train) > 1:
        val.append(train.pop())  # small corpora: make the validation split large enough for one window
    if sum(map(len, train)) < min_tokens:
        raise ConversionError(f"{path}: the corpus has too few tokens to train on (need at least {min_tokens} "
                              "in training and as many again for validation)")
    return np.concatenate(train), np.concatenate(val)


def token_streams(corpus: Path, package: Path, run_dir: Path, special: dict, bos: bool, seq_len: int, log) -> tuple:
    """The corpus as token streams, cached in the run folder (delete them to re-read the corpus)."""
    cached = run_dir / "train_tokens.npy", run_dir / "val_tokens.npy"
    if all(p.exists() for p in cached):
        return tuple(np.load(p, mmap_mode="r") for p in cached)
    train, val = tokenize_corpus(corpus, package / "tokenizer.json", special["eot"]["id"],
                                 special["bos"]["id"] if bos else None, 2 * (seq_len + 1))
    run_dir.mkdir(parents=True, exist_ok=True)
    for p, stream in zip(cached, (train, val)):
        np.save(p, stream)
    log(json.dumps({"event": "corpus", "train_tokens": int(len(train)), "val_tokens": int(len(val))}))
    return train, val


def draft_heads(d_model: int) -> int:
    """Heads of 64 dimensions, as many as divide the width."""
    h = max(1, d_model // 64)
    while d_model % h:
        h -= 1
    return h


def resolve_device(choice: str) -> str:
    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        raise ConversionError("--device cuda: torch sees no CUDA device (a CPU-only torch build, or no GPU)")
    return choice


def check_same_model(package: Path, manifest: dict, checkpoint: Path) -> None:
    """The draft learns its target's predictions, so it must train against the package's own checkpoint."""
    recorded = manifest.get("source", {}).get("fingerprint")
    if recorded is None:
        raise ConversionError(f"{package}: not a package made by `convert` (no source fingerprint in chimera.json)")
    if recorded != fingerprint(checkpoint):
        raise ConversionError(f"{package}: the package was converted from another checkpoint than {checkpoint}; "
                              "convert this checkpoint first, or pass the one it came from")


def train_package_draft(checkpoint: Path, package: Path, corpus: Path, a: HFDraftArgs,
                        log: Callable[[str], None] = print) -> dict:
    manifest = load_manifest(package)
    check_same_model(package, manifest, checkpoint)
    device = resolve_device(a.device)
    train, val = token_streams(corpus, package, a.run_dir, manifest["special_tokens"], manifest.get("add_bos_token", False),
                               a.seq_len, log)
    target = load_target(checkpoint, "fp32").to(device)  # the draft trains in fp32 against fp32 hidden states
    cfg = DraftConfig.for_target(target.cfg, n_heads=draft_heads(target.cfg.d_model), n_steps=a.n_steps, top_k=a.top_k,
                                 shortlist_size=min(a.shortlist, target.cfg.vocab_size),
                                 d_ff=a.d_ff or 2 * target.cfg.d_model, pad_token=manifest["special_tokens"]["eot"]["id"])
    args = DraftTrainArgs(run_dir=a.run_dir, steps=a.steps, batch_size=a.batch_size, seq_len=a.seq_len, lr=a.lr,
                          warmup=min(100, max(1, a.steps // 10)), eval_every=a.eval_every, eval_batches=a.eval_batches,
                          threads=a.threads, device=device, progress=True)
    accuracy: dict = {}

    def record(line: str) -> None:
        accuracy.update(json.loads(line).get("val_accuracy", {}))
        log(line)

    draft = train_draft(target, cfg, train, val, args, log=record).to("cpu").eval()
    external = weight_bytes(draft) > EXTERNAL_THRESHOLD
    (package / "draft.onnx.data").unlink(missing_ok=True)
    export_draft(draft, package / "draft.onnx", external, capacity=target.cfg.max_seq_len, quant=draft_quant(cfg.d_model))
    manifest = add_draft(package, manifest, cfg.to_dict(), "draft.onnx.data" if external else None)
    manifest["metrics"] = {**manifest.get("metrics", {}), "draft_val_accuracy": accuracy, "draft_steps": a.steps}
    write_manifest(package, manifest)
    validate_package(package)
    log(json.dumps({"event": "packaged", "package": str(package), "draft_steps": a.steps, "external_data": external}))
    return manifest
