"""Tiny random-weight Hugging Face checkpoints, one per family, for the converter's tests and the engine's
converted-package fixture. Built with transformers itself, saved in several safetensors shards, each with
a small byte-level BPE tokenizer carrying the family's special tokens (at the end of the vocabulary, as
real tokenizers have them)."""
from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

SPECIALS = {
    "qwen2": ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>",
              "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>"],
    "llama": ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"],
    "mistral": ["<unk>", "<s>", "</s>", "[INST]", "[/INST]", "[PREFIX]", "[SUFFIX]", "[MIDDLE]"],
}
BASE_VOCAB = 384
VOCAB = 416  # the model's rows: more than the tokenizer has, as in real checkpoints
COMMON = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2, max_position_embeddings=512,
              initializer_range=0.2)  # large enough that logits span a few units, so 1e-4 is a real test
# Grouped-query attention everywhere; one tied and two untied heads; each RoPE type the converter reads.
CONFIGS = {
    "qwen2": dict(num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True, rope_theta=1e6),
    "llama": dict(num_attention_heads=8, num_key_value_heads=2, head_dim=16, tie_word_embeddings=False,
                  rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                "original_max_position_embeddings": 64}, rope_theta=5e5),
    "mistral": dict(num_attention_heads=4, num_key_value_heads=1, tie_word_embeddings=False, sliding_window=None,
                    rope_scaling={"rope_type": "linear", "factor": 2.0}),
}


def tiny_tokenizer(family: str, texts: list[str]) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=BASE_VOCAB, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    tok.add_special_tokens(SPECIALS[family])
    return tok


def sample_texts() -> list[str]:
    """Code to train the tiny tokenizers on: this package's own sources (always present, deterministic)."""
    return [p.read_text() for p in sorted(Path(__file__).parent.glob("*.py"))]


def model_class(family: str):
    import transformers

    name = {"qwen2": "Qwen2", "llama": "Llama", "mistral": "Mistral"}[family]
    return getattr(transformers, f"{name}Config"), getattr(transformers, f"{name}ForCausalLM")


def build_checkpoint(family: str, out: Path, seed: int = 0, shard_size: str = "60KB"):
    """Writes config.json, sharded safetensors and tokenizer.json to `out`; returns the transformers model."""
    config_cls, model_cls = model_class(family)
    torch.manual_seed(seed)
    model = model_cls(config_cls(**COMMON, **CONFIGS[family])).eval()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, max_shard_size=shard_size)
    tiny_tokenizer(family, sample_texts()).save(str(out / "tokenizer.json"))
    return model
