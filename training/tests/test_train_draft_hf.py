"""Draft training for a converted checkpoint: reads the user's corpus, resumes, exports a draft that matches
torch, and leaves a valid package that the engine decodes with, losslessly."""
import json
import subprocess

import numpy as np

from chimera_train.onnx_build import draft_quant
import onnxruntime as ort
import pytest
import torch

from chimera_train.checkpoint import load_target
from chimera_train.cli import main
from chimera_train.convert import convert
from chimera_train.hf_model import ConversionError
from chimera_train.package import validate_package
from chimera_train.tiny_hf import build_checkpoint, sample_texts
from chimera_train.train_draft import load_draft
from chimera_train.train_draft_hf import corpus_documents
from node_cli import ensure_cli, run_verify


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A Llama-family package (untied head, BOS) with a draft trained in two runs, the second resuming."""
    root = tmp_path_factory.mktemp("draft")
    build_checkpoint("llama", root / "checkpoint")
    convert(root / "checkpoint", root / "package", log=lambda _: None)
    corpus = root / "corpus"
    (corpus / "node_modules").mkdir(parents=True)
    for i, text in enumerate(sample_texts()[:6]):
        (corpus / f"file{i}.py").write_text(text)
    (corpus / "node_modules" / "skipped.js").write_text("ignored " * 1000)
    (corpus / "image.bin").write_bytes(b"\0\1\2" * 100)
    common = [str(root / "checkpoint"), "--package", str(root / "package"), "--corpus", str(corpus), "--run-dir",
              str(root / "run"), "--batch-size", "2", "--seq-len", "32", "--eval-every", "2", "--threads", "1"]
    lines = []
    for steps in ("4", "6"):
        out = subprocess.run(["python", "-m", "chimera_train", "train-draft-hf", *common, "--steps", steps],
                             capture_output=True, text=True, cwd=root.parent, env=_env())
        assert out.returncode == 0, out.stderr[-3000:]
        lines += [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
        assert "draft:" in out.stderr  # the tqdm bar
    return root, lines


def _env():
    import os
    import sys
    from pathlib import Path

    return {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "PATH": os.path.dirname(sys.executable)
            + os.pathsep + os.environ.get("PATH", "")}


def test_training_reads_the_corpus_resumes_and_packages(trained):
    root, lines = trained
    corpus = [e for e in lines if e.get("event") == "corpus"]
    assert len(corpus) == 1 and corpus[0]["train_tokens"] > 1000  # tokenized once, cached for the resume
    assert {"event": "resume", "step": 4} in lines
    assert [e["step"] for e in lines if "val_accuracy" in e] == [2, 4, 6]
    manifest = validate_package(root / "package")
    assert manifest["draft"]["n_heads"] == 1 and manifest["files"]["draft"]["path"] == "draft.onnx"
    assert manifest["metrics"]["draft_steps"] == 6 and len(manifest["metrics"]["draft_val_accuracy"]["top1"]) == 4
    assert run_verify(root / "package")["pass"]


def test_draft_onnx_matches_torch_with_an_untied_head(trained):
    root, _ = trained
    target = load_target(root / "checkpoint")
    assert target.head is not None
    draft = load_draft(root / "run" / "draft_ckpt.pt", target).eval()
    assert draft.cfg.pad_token == json.loads((root / "package" / "chimera.json").read_text())["special_tokens"]["eot"]["id"]
    session = ort.InferenceSession(str(root / "package" / "draft.onnx"), providers=["CPUExecutionProvider"])
    hidden = torch.randn(1, 5, target.cfg.d_model)
    empty = torch.zeros(1, 0, draft.cfg.n_heads, draft.cfg.head_dim)
    tokens = torch.tensor([[3, 4, 5]])
    with torch.no_grad():
        want = draft.forward_draft(hidden, empty, empty, tokens)
    got = session.run(None, {"hidden_states": hidden.numpy(), "past_context.key": empty.numpy(),
                             "past_context.value": empty.numpy(), "tokens": tokens.numpy(),
                             "position_offset": np.array([0], dtype=np.int64)})
    quantized = draft_quant(draft.cfg.d_model) is not None  # int8 blocks: close, not bit-equal
    for g, w in zip(got[:2], want[:2]):
        np.testing.assert_allclose(g, w.numpy(), atol=0.05 * float(w.abs().max()) if quantized else 1e-4)
    if not quantized:
        for g, w in zip(got[2:], want[2:]):
            np.testing.assert_allclose(g, w.numpy(), atol=1e-4)
    else:  # the first choice of the first step survives int8 weights
        assert got[2][0, 0, 0] == want[2][0, 0, 0]


def test_engine_decodes_losslessly_with_the_draft(trained):
    root, _ = trained
    texts = {}
    for mode in ("autoregressive", "chimera"):
        out = subprocess.run(["node", str(ensure_cli()), "generate", "--model", str(root / "package"), "--device", "cpu",
                              "--prompt", "def load(path):\n", "--chat", "--max-tokens", "24", "--mode", mode, "--json"],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        result = json.loads(out.stdout)
        texts[mode] = result["text"]
        assert result["stats"]["mode"] == mode
    assert texts["chimera"] == texts["autoregressive"]


def test_jsonl_corpus_and_its_errors(tmp_path):
    good = tmp_path / "c.jsonl"
    good.write_text(json.dumps({"text": "a = 1"}) + "\n\n" + json.dumps({"text": "b = 2"}) + "\n")
    assert [t for _, t in corpus_documents(good)] == ["a = 1", "b = 2"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"content": "x"}) + "\n")
    with pytest.raises(ConversionError, match=r"bad\.jsonl:1: expected a JSON object with a \"text\" field"):
        list(corpus_documents(bad))
    with pytest.raises(ConversionError, match="corpus not found"):
        list(corpus_documents(tmp_path / "nope"))


def test_cli_reports_a_package_from_another_checkpoint(tmp_path, capsys):
    build_checkpoint("qwen2", tmp_path / "qwen")
    build_checkpoint("mistral", tmp_path / "mistral")
    convert(tmp_path / "qwen", tmp_path / "package", log=lambda _: None)
    (tmp_path / "corpus.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in sample_texts()[:4]))
    code = main(["train-draft-hf", str(tmp_path / "mistral"), "--package", str(tmp_path / "package"), "--corpus",
                 str(tmp_path / "corpus.jsonl"), "--run-dir", str(tmp_path / "run"), "--seq-len", "32", "--steps", "1"])
    assert code == 2 and "converted from another checkpoint" in capsys.readouterr().err
