"""The draft's two paths (all-anchors training, one-chain drafting) must compute the same thing."""
import torch

from chimera_train.draft import DraftConfig, build_draft
from chimera_train.train_draft import shortlist_index


def make_draft(target, shortlist_size=None):
    cfg = DraftConfig.for_target(target.cfg, n_steps=4, top_k=3, **({"shortlist_size": shortlist_size} if shortlist_size else {}))
    shortlist = torch.arange(cfg.shortlist_size) * (target.cfg.vocab_size // cfg.shortlist_size)
    draft = build_draft(target, cfg, shortlist)
    torch.manual_seed(1)
    with torch.no_grad():  # leave the identity/zero init so every part of the layer takes part
        for p in draft.parameters():
            if p is not draft.embed.weight:
                p.add_(torch.randn_like(p) * 0.05)
    return draft.eval()


def chain_then_train_logits(target, draft, prefix_len=9):
    torch.manual_seed(2)
    tokens = torch.randint(0, target.cfg.vocab_size, (1, prefix_len))
    with torch.no_grad():
        logits, hidden = target(tokens)
        root = logits[0, -1].argmax()
        hd = target.cfg.n_heads, target.cfg.head_dim
        empty = torch.zeros(1, 0, *hd)
        trigram = torch.stack([tokens[0, -2], tokens[0, -1], root])[None]
        _, _, ids, logp = draft.forward_draft(hidden, empty, empty, trigram)
        chain = ids[0, :, 0]
        seq = torch.cat([tokens[0], root[None], chain[:-1]])[None]
        _, hidden_seq = target(seq)
        hidden_seq[:, prefix_len:] = 0  # the training path must never look at hidden states past the anchor
        train_logits = draft.forward_train(seq, hidden_seq)
    return prefix_len - 1, ids, logp, train_logits


def test_drafting_path_matches_training_path(tiny_target):
    draft = make_draft(tiny_target)
    anchor, ids, logp, train_logits = chain_then_train_logits(tiny_target, draft)
    for k, logits in enumerate(train_logits):
        row = torch.log_softmax(logits[0, anchor + k + 1], -1)
        top_lp, top_i = row.topk(draft.cfg.top_k)
        assert torch.equal(draft.shortlist[top_i], ids[0, k]), f"step {k}"
        assert torch.allclose(top_lp, logp[0, k], atol=1e-5), f"step {k}"


def test_shortlist_maps_back_to_vocabulary_ids(tiny_target):
    draft = make_draft(tiny_target, shortlist_size=16)
    _, ids, _, _ = chain_then_train_logits(tiny_target, draft)
    assert set(ids.flatten().tolist()) <= set(draft.shortlist.tolist())
    table = shortlist_index(draft.shortlist, tiny_target.cfg.vocab_size)
    assert (table[draft.shortlist] == torch.arange(16)).all()
    assert (table >= 0).sum() == 16


def test_heads_start_as_the_lm_head(tiny_target):
    cfg = DraftConfig.for_target(tiny_target.cfg)
    draft = build_draft(tiny_target, cfg, torch.arange(tiny_target.cfg.vocab_size))
    anchor, d = torch.randn(1, 1, cfg.d_model), torch.randn(1, 1, cfg.d_model)
    expected = (anchor + draft.head_norm(d)) @ tiny_target.embed.weight.T
    assert torch.allclose(draft.head_logits(2, anchor, d), expected, atol=1e-5)


def test_scoring_a_sample_of_rows_gives_those_rows_of_the_full_pass(tiny_target):
    draft = make_draft(tiny_target)
    tokens = torch.randint(0, tiny_target.cfg.vocab_size, (2, 12))
    with torch.no_grad():
        _, hidden = tiny_target(tokens)
        full = draft.forward_train(tokens, hidden)
        rows = torch.tensor([4, 7, 11])
        sampled = draft.forward_train(tokens, hidden, rows)
    for k in range(draft.cfg.n_steps):
        assert torch.allclose(sampled[k], full[k][:, rows], atol=1e-4)  # logits of size ~100: float noise
