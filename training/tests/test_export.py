"""Exported ONNX graphs must match torch within 1e-4 (fp32): prefill, a decode step on a cache, a tree block."""
import numpy as np
import onnxruntime as ort
import pytest
import torch

from chimera_train.export import causal_bias, export_draft, export_target, target_input_names
from test_draft import make_draft

TOL = 1e-4


@pytest.fixture
def target_session(tiny_target, tmp_path):
    path = tmp_path / "target.onnx"
    export_target(tiny_target, path)
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def run_target(session, cfg, ids, positions, bias, past, keep=None):
    feeds = {"input_ids": ids.numpy(), "position_ids": positions.numpy(), "attention_bias": bias.numpy(),
             "logits_to_keep": np.array([keep or ids.shape[1]], dtype=np.int64)}
    for i, (k, v) in enumerate(past):
        feeds[f"past_key_values.{i}.key"] = k.numpy()
        feeds[f"past_key_values.{i}.value"] = v.numpy()
    out = session.run(None, feeds)
    kv = [(torch.from_numpy(out[2 + 2 * i]), torch.from_numpy(out[3 + 2 * i])) for i in range(cfg.n_layers)]
    return torch.from_numpy(out[0]), torch.from_numpy(out[1]), kv


def empty_past(cfg):
    return [(torch.zeros(1, 0, cfg.n_heads, cfg.head_dim),) * 2 for _ in range(cfg.n_layers)]


def test_input_names_follow_the_contract(target_session, tiny_target):
    assert [i.name for i in target_session.get_inputs()] == target_input_names(tiny_target.cfg.n_layers)


def test_prefill_and_decode_match_torch(target_session, tiny_target):
    cfg = tiny_target.cfg
    ids = torch.randint(0, cfg.vocab_size, (1, 8))
    with torch.no_grad():
        ref_logits, ref_hidden = tiny_target(ids)
    logits, hidden, kv = run_target(target_session, cfg, ids[:, :7], torch.arange(7)[None], causal_bias(7, 0),
                                    empty_past(cfg))
    assert torch.allclose(logits, ref_logits[:, :7], atol=TOL)
    assert torch.allclose(hidden, ref_hidden[:, :7], atol=TOL)
    step_logits, step_hidden, _ = run_target(target_session, cfg, ids[:, 7:], torch.tensor([[7]]),
                                             causal_bias(1, 7), kv)
    assert torch.allclose(step_logits[0, 0], ref_logits[0, 7], atol=TOL)
    assert torch.allclose(step_hidden[0, 0], ref_hidden[0, 7], atol=TOL)


def test_logits_to_keep_returns_the_last_rows(target_session, tiny_target):
    cfg = tiny_target.cfg
    ids = torch.randint(0, cfg.vocab_size, (1, 6))
    full, hidden, _ = run_target(target_session, cfg, ids, torch.arange(6)[None], causal_bias(6, 0), empty_past(cfg))
    last, hidden1, _ = run_target(target_session, cfg, ids, torch.arange(6)[None], causal_bias(6, 0), empty_past(cfg), keep=1)
    assert last.shape == (1, 1, cfg.vocab_size) and hidden1.shape == hidden.shape
    assert torch.allclose(last[0, 0], full[0, -1], atol=TOL)


def test_tree_block_matches_each_path_decoded_alone(target_session, tiny_target):
    """Root r with children a, b; a has child c. Each node's logits equal a causal pass over its own path."""
    cfg = tiny_target.cfg
    prefix = torch.randint(0, cfg.vocab_size, (1, 5))
    _, _, kv = run_target(target_session, cfg, prefix, torch.arange(5)[None], causal_bias(5, 0), empty_past(cfg))
    r, a, b, c = torch.randint(0, cfg.vocab_size, (4,)).tolist()
    nodes, depth, parent = [r, a, b, c], [0, 1, 1, 2], [-1, 0, 0, 1]
    bias = torch.full((1, 1, 4, 5 + 4), float("-inf"))
    bias[..., :5] = 0
    for i in range(4):
        j = i
        while j != -1:
            bias[0, 0, i, 5 + j] = 0
            j = parent[j]
    logits, _, _ = run_target(target_session, cfg, torch.tensor([nodes]), torch.tensor([depth]) + 5, bias, kv)
    paths = {0: [r], 1: [r, a], 2: [r, b], 3: [r, a, c]}
    with torch.no_grad():
        for i, path in paths.items():
            ref, _ = tiny_target(torch.cat([prefix[0], torch.tensor(path)])[None])
            assert torch.allclose(logits[0, i], ref[0, -1], atol=TOL), f"node {i}"


def _draft_feeds(h, past_k, past_v, tokens, offset=0):
    return {"hidden_states": h.numpy(), "past_context.key": past_k.numpy(), "past_context.value": past_v.numpy(),
            "tokens": tokens.numpy(), "position_offset": np.array([offset], dtype=np.int64)}


def test_draft_export_matches_torch(tiny_target, tmp_path):
    draft = make_draft(tiny_target)
    path = tmp_path / "draft.onnx"
    export_draft(draft, path, capacity=64)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    cfg = tiny_target.cfg
    hidden = torch.randn(1, 10, cfg.d_model)
    pk = torch.zeros(1, 0, cfg.n_heads, cfg.head_dim)
    tokens = torch.tensor([[3, 4, 5]])
    with torch.no_grad():
        ref = draft.forward_draft(hidden[:, :8], pk, pk, tokens)
    out = session.run(None, _draft_feeds(hidden[:, :8], pk, pk, tokens))
    for got, want in zip(out, ref):
        np.testing.assert_allclose(got, want.numpy(), atol=TOL)
    # a second call on the cache the first one produced
    with torch.no_grad():
        ref2 = draft.forward_draft(hidden[:, 8:], ref[0], ref[1], tokens)
    out2 = session.run(None, _draft_feeds(hidden[:, 8:], ref[0], ref[1], tokens))
    for got, want in zip(out2, ref2):
        np.testing.assert_allclose(got, want.numpy(), atol=TOL)
    # a window of the context (the last 5 rows, the first at position 3) keeps positions absolute
    with torch.no_grad():
        ref3 = draft.forward_draft(hidden[:, 8:], ref[0][:, 3:], ref[1][:, 3:], tokens, position_offset=3)
    out3 = session.run(None, _draft_feeds(hidden[:, 8:], ref[0][:, 3:], ref[1][:, 3:], tokens, offset=3))
    for got, want in zip(out3, ref3):
        np.testing.assert_allclose(got, want.numpy(), atol=TOL)
    np.testing.assert_allclose(out3[0], out2[0], atol=TOL)  # the new context rows do not depend on the window


def test_draft_export_cuts_steps_and_shortlist_and_quantizes(tiny_target, tmp_path):
    from chimera_train.onnx_build import Quant

    draft = make_draft(tiny_target)
    cfg = tiny_target.cfg
    hidden = torch.randn(1, 6, cfg.d_model)
    pk = torch.zeros(1, 0, cfg.n_heads, cfg.head_dim)
    tokens = torch.tensor([[3, 4, 5]])
    with torch.no_grad():
        ref = draft.forward_draft(hidden, pk, pk, tokens)
    short = draft.shortlist[: len(draft.shortlist) // 2]
    path = tmp_path / "cut.onnx"
    export_draft(draft, path, capacity=64, n_steps=2, shortlist=short)
    out = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, _draft_feeds(hidden, pk, pk, tokens))
    assert out[2].shape == (1, 2, draft.cfg.top_k)
    assert np.isin(out[2], short.numpy()).all(), "candidates come from the export shortlist only"
    np.testing.assert_allclose(out[0], ref[0].numpy(), atol=TOL)
    if cfg.d_model % 32 == 0:
        qpath = tmp_path / "int8.onnx"
        export_draft(draft, qpath, capacity=64, quant=Quant(8))
        q = ort.InferenceSession(str(qpath), providers=["CPUExecutionProvider"]).run(None, _draft_feeds(hidden, pk, pk, tokens))
        np.testing.assert_allclose(q[0], ref[0].numpy(), atol=0.05 * float(ref[0].abs().max()))
        import onnx

        ops = {n.op_type for n in onnx.load(str(qpath)).graph.node}
        assert "MatMulNBits" in ops and "MatMul" not in ops  # every weight quantized (attention is fused)


@pytest.mark.parametrize("bits,k", [(8, 96), (4, 96), (8, 80)])
def test_quantizing_in_row_chunks_equals_quantizing_whole(monkeypatch, bits, k):
    """Weights are quantized a few rows at a time (to bound the converter's memory); the result must be the
    one the whole matrix gives: per-block absmax scales, zero point 2^(bits-1), padded last block."""
    from chimera_train import onnx_build
    from chimera_train.onnx_build import Quant, quantize_blocks

    w = torch.randn(37, k, generator=torch.Generator().manual_seed(bits + k))
    w[3, :32] = 0  # an all-zero block keeps scale 1
    q = Quant(bits, 32)
    monkeypatch.setattr(onnx_build, "QUANT_ROWS", 1 << 20)
    whole = quantize_blocks(w, q)
    monkeypatch.setattr(onnx_build, "QUANT_ROWS", 5)
    chunked = quantize_blocks(w, q)
    for a, b in zip(whole, chunked):
        np.testing.assert_array_equal(a, b)
    packed, scales = chunked
    blocks = -(-k // 32)
    assert packed.shape == (37, blocks, 32 * bits // 8) and scales.shape == (37 * blocks,)
    assert scales.reshape(37, blocks)[3, 0] == 1.0
    # Dequantized, every weight is within half a step of its block's scale.
    top = (1 << (bits - 1)) - 1
    p32 = packed.astype(np.int32)
    values = p32 if bits == 8 else np.stack([p32 & 15, p32 >> 4], -1).reshape(37, blocks, 32)
    deq = ((values - (top + 1)) * scales.reshape(37, blocks, 1)).reshape(37, -1)[:, :k]
    step = np.repeat(scales.reshape(37, blocks), 32, axis=1)[:, :k]
    assert np.all(np.abs(deq - w.numpy()) <= step / 2 + 1e-6)
