"""Byte-level BPE tokenizer for code, with the special tokens the engine's templates rely on."""
from __future__ import annotations

import random
from pathlib import Path
from typing import Iterable, Iterator

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

EOT = "<|endoftext|>"
FIM_PREFIX = "<|fim_prefix|>"
FIM_MIDDLE = "<|fim_middle|>"
FIM_SUFFIX = "<|fim_suffix|>"
FILE = "<|file|>"
SYSTEM = "<|system|>"
USER = "<|user|>"
ASSISTANT = "<|assistant|>"
END = "<|end|>"
PAD = "<|pad|>"

# Order fixes the ids 0..9; the manifest records them, so the engine never guesses.
SPECIAL_TOKENS = [EOT, FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX, FILE, SYSTEM, USER, ASSISTANT, END, PAD]


def new_tokenizer() -> Tokenizer:
    tok = Tokenizer(models.BPE())
    # No prefix space: FIM pieces are encoded separately and must concatenate back to the same bytes.
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    return tok


def train_tokenizer(texts: Iterable[str], vocab_size: int) -> Tokenizer:
    tok = new_tokenizer()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def sample_texts(docs: Iterable[dict], budget_bytes: int, seed: int = 0) -> Iterator[str]:
    """A reproducible sample of documents up to budget_bytes, balanced by taking every doc with prob p."""
    rng = random.Random(seed)
    docs = list(docs)
    rng.shuffle(docs)
    used = 0
    for doc in docs:
        if used >= budget_bytes:
            break
        used += len(doc["text"])
        yield doc["text"]


SPECIAL_NAMES = {"eot": EOT, "fim_prefix": FIM_PREFIX, "fim_middle": FIM_MIDDLE, "fim_suffix": FIM_SUFFIX,
                 "file": FILE, "system": SYSTEM, "user": USER, "assistant": ASSISTANT, "end": END, "pad": PAD}


def special_ids(tok: Tokenizer, names: dict[str, str] | None = None) -> dict[str, int]:
    ids = {}
    for name, token in (names or SPECIAL_NAMES).items():
        tid = tok.token_to_id(token)
        if tid is None:
            raise ValueError(f"tokenizer lacks the special token {token}")
        ids[name] = tid
    return ids


def special_token_table(tok: Tokenizer, names: dict[str, str] | None = None) -> dict[str, dict]:
    """name -> {id, text}: what the manifest records, so the engine needs no knowledge of token strings."""
    names = names or SPECIAL_NAMES
    return {name: {"id": tid, "text": names[name]} for name, tid in special_ids(tok, names).items()}


def load_tokenizer(path: Path) -> Tokenizer:
    return Tokenizer.from_file(str(path))
