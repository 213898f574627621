"""A tiny random-weight package for fast engine tests (well under 2 MB), regenerable with one command:
`python -m chimera_train fixture`. Weights are random but seeded and scaled: at plain init a random model
just repeats its last token, so the embedding (x8) and the layers' matrices (x16) are scaled until greedy
output varies (about a third of tokens distinct) while the top-2 logit margins stay clear (5th percentile
~0.016, none below 1e-3), far above the ~1e-6 differences between block and step logits."""
from __future__ import annotations

import tempfile
from pathlib import Path

import torch

from .draft import DraftConfig, build_draft
from .export import export_draft, export_target
from .model import TargetConfig, TargetLM
from .package import assemble
from .tokenizer import load_tokenizer, special_token_table

FIXTURE_TARGET = dict(d_model=16, n_layers=2, n_heads=2, d_ff=32, max_seq_len=1024)


def build_fixture(tokenizer_path: Path, out: Path, seed: int = 0) -> dict:
    tok = load_tokenizer(tokenizer_path)
    cfg = TargetConfig(vocab_size=tok.get_vocab_size(), **FIXTURE_TARGET)
    torch.manual_seed(seed)
    target = TargetLM(cfg).eval()
    with torch.no_grad():
        target.embed.weight.mul_(8)
        for block in target.blocks:
            for p in block.parameters():
                if p.dim() == 2:
                    p.mul_(16)
    dcfg = DraftConfig.for_target(cfg, n_steps=4, top_k=4)
    draft = build_draft(target, dcfg, torch.arange(cfg.vocab_size)).eval()
    with tempfile.TemporaryDirectory() as tmp:
        t_path, d_path = Path(tmp) / "target.onnx", Path(tmp) / "draft.onnx"
        export_target(target, t_path)
        export_draft(draft, d_path, capacity=cfg.max_seq_len)
        return assemble(out, tokenizer=tokenizer_path, target_onnx=t_path, draft_onnx=d_path,
                        name="chimera-test-fixture", family="chimera-tiny", target_cfg=cfg.to_dict(),
                        draft_cfg=dcfg.to_dict(), special=special_token_table(tok), tree=None,
                        metrics={"note": "random weights, for tests only"})


def build_standard_fixture(out: Path, family: str, layout: str, seed: int = 0, prompts: int = 8, tokens: int = 24) -> dict:
    """A standard-layout export (graph_standard.py) of a tiny random checkpoint for the engine tier, with
    reference.json: prompts and transformers' own greedy continuations of them, which the engine must
    reproduce from the exported graph."""
    import json
    import shutil

    from .checkpoint import load_target
    from .graph_standard import export_standard
    from .tiny_hf import build_checkpoint

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        hf = build_checkpoint(family, root / "checkpoint", seed=seed)
        if out.exists():
            shutil.rmtree(out)
        export_standard(load_target(root / "checkpoint"), root / "checkpoint", out, layout)
        gen = torch.Generator().manual_seed(seed)
        cases = []
        for _ in range(prompts):
            ids = torch.randint(0, 380, (1, int(torch.randint(4, 40, (1,), generator=gen))), generator=gen)
            with torch.no_grad():
                greedy = hf.generate(ids, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False)[0, ids.shape[1]:]
            cases.append({"prompt": ids[0].tolist(), "greedy": greedy.tolist()})
        (out / "reference.json").write_text(json.dumps({"note": f"transformers greedy, {family}, {layout} layout",
                                                         "cases": cases}) + "\n")
        return {"out": str(out), "bytes": sum(f.stat().st_size for f in out.rglob("*") if f.is_file())}


def build_converted_fixture(out: Path, seed: int = 0, draft_steps: int = 40, quant: str | None = None,
                            quant_block: int | None = None, external: str = "auto",
                            head_part_bytes: int | None = None) -> dict:
    """A converted Hugging Face package for the engine tier (under 2 MB): a tiny random Qwen2 checkpoint
    (grouped-query attention, biases, tied head, ChatML and FIM tokens) through `convert` (with `quant`,
    int8 or int4 weights, and `external` data, where a quantized target takes its embeddings from the
    engine), with a draft trained for a few steps by `train-draft-hf` on this package's sources."""
    import json
    import shutil

    from .convert import convert
    from .tiny_hf import build_checkpoint, sample_texts
    from .train_draft_hf import HFDraftArgs, train_package_draft

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        build_checkpoint("qwen2", root / "checkpoint", seed=seed)
        if out.exists():
            shutil.rmtree(out)
        convert(root / "checkpoint", out, name=f"chimera-test-converted-qwen2{'-' + quant if quant else ''}",
                quant=quant, quant_block=quant_block, external=external, head_part_bytes=head_part_bytes,
                log=lambda _: None)
        (root / "corpus.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in sample_texts()))
        args = HFDraftArgs(run_dir=root / "run", steps=draft_steps, batch_size=4, seq_len=64, eval_every=draft_steps,
                           eval_batches=2, threads=2, device="cpu")
        return train_package_draft(root / "checkpoint", out, root / "corpus.jsonl", args, log=lambda _: None)
