"""Turn corpus documents into training token streams: plain code, fill-in-the-middle, and chat samples.

The layouts here are the ones the engine's template registry uses at inference time (see templates.py):
a file header `<|file|>path\\n`, FIM in suffix-prefix-middle order, and `<|user|>`/`<|assistant|>` turns
closed by `<|end|>`. Each piece of text is encoded on its own so that byte boundaries match inference,
where the editor's prefix and suffix are also encoded separately.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np
from tokenizers import Tokenizer

from . import templates
from .chat_samples import chat_examples
from .corpus import split_at
from .tokenizer import special_ids

FIM_WINDOW_CHARS = 2600  # a FIM example must fit a 1024-token training window whole


@dataclass
class Mix:
    fim_rate: float = 0.5
    header_rate: float = 0.5
    chat_per_doc: float = 0.5  # expected chat samples drawn from each document that yields any


class Encoder:
    """Encodes text without ever interpreting special-token strings that occur inside source code."""

    def __init__(self, tok: Tokenizer):
        self.tok = tok
        self.tok.encode_special_tokens = True
        self.ids = special_ids(tok)

    def text(self, s: str) -> list[int]:
        return self.tok.encode(s, add_special_tokens=False).ids if s else []

    def texts(self, items: list[str]) -> list[list[int]]:
        return [e.ids for e in self.tok.encode_batch(items, add_special_tokens=False)]


def line_aligned_windows(text: str, size: int) -> list[str]:
    """Consecutive pieces of at most ~size characters, cut after a newline where one is near."""
    return split_at(text, size, "\n")


def fim_split(text: str, rng: random.Random) -> tuple[str, str, str]:
    """(prefix, middle, suffix). Mostly cursor-in-line spans of a few lines, as inline completion sees them."""
    if rng.random() < 0.3 or "\n" not in text:
        a, b = sorted(rng.randrange(0, len(text) + 1) for _ in range(2))
        return text[:a], text[a:b], text[b:]
    line_starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n" and i + 1 < len(text)]
    first = rng.randrange(len(line_starts))
    n_lines = min(len(line_starts) - first, 1 + int(rng.expovariate(0.5)))
    start = line_starts[first]
    end_line = first + n_lines
    end = line_starts[end_line] if end_line < len(line_starts) else len(text)
    line_end = text.find("\n", start)
    line_end = len(text) if line_end == -1 else line_end
    if rng.random() < 0.6:  # the cursor sits somewhere inside the first line
        start = rng.randrange(start, line_end + 1)
    if rng.random() < 0.3:  # the middle stops before the newline, leaving the rest of the line as suffix
        end = max(start, end - 1) if end > 0 and text[end - 1 : end] == "\n" else end
    return text[:start], text[start:end], text[end:]


def document_ids(doc: dict, enc: Encoder, rng: random.Random, mix: Mix) -> list[int]:
    sp = enc.ids
    header: list[int] = []
    if rng.random() < mix.header_rate:
        header = [sp["file"], *enc.text(doc["file"] + "\n")]
    if rng.random() < mix.fim_rate:  # every window of the file becomes one FIM example, so nothing is lost
        out: list[int] = []
        for window in line_aligned_windows(doc["text"], FIM_WINDOW_CHARS):
            prefix, middle, suffix = fim_split(window, rng)
            p, m, s = enc.texts([prefix, middle, suffix])
            out += templates.fim_ids(sp, header, p, s) + m + [sp["eot"]]
        return out
    return header + enc.text(doc["text"]) + [sp["eot"]]


def build_stream(docs: Iterable[dict], tok: Tokenizer, seed: int, mix: Mix | None = None) -> np.ndarray:
    """One uint16 token stream: each document (plain or FIM) then, at random, chat samples made from it."""
    mix = mix or Mix()
    enc = Encoder(tok)
    rng = random.Random(seed)
    out: list[np.ndarray] = []
    for doc in docs:
        out.append(np.asarray(document_ids(doc, enc, rng, mix), dtype=np.uint16))
        for messages in chat_examples(doc, rng, mix.chat_per_doc):
            out.append(np.asarray(templates.chat_ids(enc, messages) + [enc.ids["eot"]], dtype=np.uint16))
    if not out:
        return np.zeros(0, dtype=np.uint16)
    return np.concatenate(out)


def batches(stream: np.ndarray, seq_len: int, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Random windows of seq_len+1 tokens, forever."""
    hi = len(stream) - seq_len - 1
    if hi <= 0:
        raise ValueError(f"token stream of {len(stream)} tokens is shorter than one window of {seq_len + 1}")
    while True:
        starts = rng.integers(0, hi, size=batch_size)
        yield np.stack([stream[s : s + seq_len + 1] for s in starts]).astype(np.int64)
