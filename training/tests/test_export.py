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


def test_draft_export_matches_torch(tiny_target, tmp_path):
    draft = make_draft(tiny_target)
    path = tmp_path / "draft.onnx"
    export_draft(draft, path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    cfg = tiny_target.cfg
    hidden = torch.randn(1, 10, cfg.d_model)
    pk = torch.zeros(1, 0, cfg.n_heads, cfg.head_dim)
    tokens = torch.tensor([[3, 4, 5]])
    for (h, past_k, past_v) in [(hidden[:, :8], pk, pk)]:
        with torch.no_grad():
            ref = draft.forward_draft(h, past_k, past_v, tokens)
        out = session.run(None, {"hidden_states": h.numpy(), "past_context.key": past_k.numpy(),
                                 "past_context.value": past_v.numpy(), "tokens": tokens.numpy()})
        for got, want in zip(out, ref):
            np.testing.assert_allclose(got, want.numpy(), atol=TOL)
        # a second call on the cache the first one produced
        past_k, past_v = ref[0], ref[1]
        with torch.no_grad():
            ref2 = draft.forward_draft(hidden[:, 8:], past_k, past_v, tokens)
        out2 = session.run(None, {"hidden_states": hidden[:, 8:].numpy(), "past_context.key": past_k.numpy(),
                                  "past_context.value": past_v.numpy(), "tokens": tokens.numpy()})
        for got, want in zip(out2, ref2):
            np.testing.assert_allclose(got, want.numpy(), atol=TOL)
