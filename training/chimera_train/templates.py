"""Prompt layouts shared by training and the engine. The package manifest records them (see package.py),
and the TypeScript template registry reads them from there, so the two sides cannot drift apart."""
from __future__ import annotations

from typing import Protocol

# Suffix-prefix-middle order (Bavarian et al. 2022, "SPM"): the text before the cursor comes last, so while
# someone types, consecutive prompts share everything up to the cursor and the engine's prompt-prefix
# cache skips re-reading the suffix. (In prefix-suffix-middle order every keystroke invalidates it.)
FIM_TEMPLATE = {
    "order": "spm",
    "file_header": "<|file|>{path}\n",
    "layout": "{file_header}<|fim_prefix|><|fim_suffix|>{suffix}<|fim_middle|>{prefix}",
    "stop": ["<|endoftext|>", "<|file|>", "<|fim_prefix|>"],
}

CHAT_TEMPLATE = {
    "turn": "<|{role}|>\n{content}<|end|>\n",
    "generation_prompt": "<|assistant|>\n",
    "roles": ["system", "user", "assistant"],
    "stop": ["<|end|>", "<|endoftext|>"],
}

# Task prompts: Explain and Refactor in the extension, and the synthetic chat samples in training.
TASK_PROMPTS = {
    "explain": "Explain this code:\n```{lang}\n{code}\n```",
    "edit": "{instruction}:\n```{lang}\n{code}\n```",
    "edit_reply_prefix": "```{lang}\n",
    "edit_reply_stop": "\n```",
    "write": "Write a {lang_name} function `{signature}`: {summary}",
}


class TextEncoder(Protocol):
    ids: dict[str, int]

    def text(self, s: str) -> list[int]: ...


def fim_ids(sp: dict[str, int], header: list[int], prefix: list[int], suffix: list[int]) -> list[int]:
    """The FIM prompt in SPM order; the middle follows it directly, then <|endoftext|>."""
    return header + [sp["fim_prefix"], sp["fim_suffix"], *suffix, sp["fim_middle"], *prefix]


def chat_ids(enc: TextEncoder, messages: list[tuple[str, str]]) -> list[int]:
    """Every turn as <|role|> + encode('\\n' + content) + <|end|> + encode('\\n')."""
    out: list[int] = []
    newline = enc.text("\n")
    for role, content in messages:
        out += [enc.ids[role], *enc.text("\n" + content), enc.ids["end"], *newline]
    return out


def manifest_templates() -> dict:
    return {"fim": FIM_TEMPLATE, "chat": CHAT_TEMPLATE, "prompts": TASK_PROMPTS}
