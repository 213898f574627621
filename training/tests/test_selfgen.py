import numpy as np
import pytest
import torch

from chimera_train.selfgen import SelfGenArgs, build_selfgen_stream, greedy_continue


def sharpen(model: torch.nn.Module) -> None:
    """With only the embedding sharpened (the fixture), the residual stream is the current token and the
    argmax ignores the context; larger layer weights make every position and cached key matter, so a wrong
    position or cache row changes the tokens."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith("blocks.") and p.dim() == 2:
                p.mul_(25)


def test_cached_continuation_is_the_full_pass_greedy(tiny_target):
    tiny_target.eval()
    sharpen(tiny_target)
    prompts = torch.randint(0, 64, (3, 10))
    out = greedy_continue(tiny_target, prompts, 12)
    assert out.shape == (3, 12)
    logits, _ = tiny_target(torch.cat([prompts, out], dim=1))
    # Each generated token is the full causal pass's argmax at the position before it.
    assert torch.equal(logits[:, 9:-1].argmax(-1), out)


def test_stream_mixes_generated_blocks_with_corpus_windows(tiny_target, tmp_path):
    corpus = np.random.default_rng(1).integers(0, 64, 2000).astype(np.uint16)
    args = SelfGenArgs(out=tmp_path / "train_tokens.npy", blocks=8, prompt_len=6, new_tokens=4, batch_size=3,
                       corpus_share=0.5, threads=1)
    stream = build_selfgen_stream(tiny_target, corpus, args, log=lambda _: None)
    assert stream.dtype == np.uint16
    assert np.array_equal(np.load(args.out), stream)
    blocks = stream.reshape(-1, 10)
    # At a share of one half, every generated block is followed by one corpus window.
    assert len(blocks) == 16

    def in_corpus(piece: np.ndarray) -> bool:
        return any(np.array_equal(corpus[i : i + len(piece)], piece) for i in range(len(corpus) - len(piece) + 1))

    for generated, window in zip(blocks[0::2], blocks[1::2]):
        assert in_corpus(generated[:6])
        prompt = torch.from_numpy(generated[None, :6].astype(np.int64))
        assert np.array_equal(greedy_continue(tiny_target, prompt, 4)[0].numpy(), generated[6:])
        assert in_corpus(window)


def test_no_corpus_share_writes_only_generated_blocks(tiny_target, tmp_path):
    corpus = np.random.default_rng(2).integers(0, 64, 500).astype(np.uint16)
    args = SelfGenArgs(out=tmp_path / "val_tokens.npy", blocks=5, prompt_len=4, new_tokens=3, batch_size=2,
                       corpus_share=0.0, threads=1)
    assert len(build_selfgen_stream(tiny_target, corpus, args, log=lambda _: None)) == 5 * 7


def test_a_larger_corpus_share_adds_more_windows_and_a_share_of_one_is_refused(tiny_target, tmp_path):
    corpus = np.random.default_rng(3).integers(0, 64, 500).astype(np.uint16)
    args = SelfGenArgs(out=tmp_path / "t.npy", blocks=4, prompt_len=4, new_tokens=3, batch_size=4,
                       corpus_share=0.75, threads=1)
    assert len(build_selfgen_stream(tiny_target, corpus, args, log=lambda _: None)) == 4 * 4 * 7  # 3 windows each
    args.corpus_share = 1.0
    with pytest.raises(ValueError, match="corpus_share"):
        build_selfgen_stream(tiny_target, corpus, args, log=lambda _: None)
