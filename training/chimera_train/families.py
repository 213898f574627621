"""Prompt formats and special tokens of the model families the converter reads.

A converted package carries its own templates in chimera.json, so the engine never hard-codes a family.
The chat format is recognised from the tokenizer's special tokens (a Llama-architecture fine-tune may well
speak ChatML), falling back on the architecture's usual format; `--chat-format` overrides both. FIM is
offered only when the tokenizer has a known set of FIM tokens; otherwise the manifest says `"fim": null`
and the engine refuses completion requests with a clear message instead of inventing a format.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .hf_model import ConversionError
from .templates import TASK_PROMPTS

ROLES = ["system", "user", "assistant"]


@dataclass(frozen=True)
class ChatFormat:
    name: str
    markers: tuple[str, ...]  # special tokens that identify the format in a tokenizer
    turn: str
    generation_prompt: str
    stop: tuple[str, ...]  # those the tokenizer has are used
    eot: tuple[str, ...]  # end-of-text candidates, first present wins
    bos: str | None = None  # prepended to every prompt when set
    turns: dict[str, str] = field(default_factory=dict)  # per-role overrides of `turn`


CHAT_FORMATS = {
    "chatml": ChatFormat("chatml", ("<|im_start|>", "<|im_end|>"), "<|im_start|>{role}\n{content}<|im_end|>\n",
                         "<|im_start|>assistant\n", ("<|im_end|>", "<|endoftext|>"), ("<|endoftext|>", "<|im_end|>")),
    "llama3": ChatFormat("llama3", ("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"),
                         "<|start_header_id|>{role}<|end_header_id|>\n\n{content}<|eot_id|>",
                         "<|start_header_id|>assistant<|end_header_id|>\n\n", ("<|eot_id|>", "<|eom_id|>", "<|end_of_text|>"),
                         ("<|end_of_text|>", "<|eot_id|>"), bos="<|begin_of_text|>"),
    # Mistral / Llama 2 instruction format. It has no system role; a system message becomes an instruction
    # of its own (Mistral's own template folds it into the last user message, which a per-turn format cannot).
    "inst": ChatFormat("inst", (), "[INST] {content} [/INST]", "", ("</s>",), ("</s>",), bos="<s>",
                       turns={"assistant": "{content}</s>"}),
}
DEFAULT_CHAT = {"qwen2": "chatml", "llama": "llama3", "mistral": "inst"}
FALLBACK_CHAT = "inst"


@dataclass(frozen=True)
class FimFormat:
    name: str
    tokens: tuple[str, ...]
    layout: str


FIM_FORMATS = [
    FimFormat("psm", ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"),
              "{file_header}<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>"),
    FimFormat("psm", ("<fim_prefix>", "<fim_suffix>", "<fim_middle>"),
              "{file_header}<fim_prefix>{prefix}<fim_suffix>{suffix}<fim_middle>"),
    FimFormat("psm", ("<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>"),
              "{file_header}<｜fim▁begin｜>{prefix}<｜fim▁hole｜>{suffix}<｜fim▁end｜>"),
    FimFormat("codestral", ("[SUFFIX]", "[PREFIX]"), "{file_header}[SUFFIX]{suffix}[PREFIX]{prefix}"),
]
FILE_HEADERS = ("<|file_sep|>", "<file_sep>", "<filename>")
# Tokens that end a completion: any FIM or file marker, or a chat turn starting, means the middle is done.
FIM_STOPS = ("<|fim_pad|>", "<|repo_name|>", "<|file_sep|>", "<file_sep>", "<filename>", "<|im_start|>",
             "<|im_end|>", "<|eot_id|>")

# Only these are ever split out of templates as special tokens: some tokenizers also add ordinary strings
# (runs of spaces, say) to added_tokens, which must stay text.
KNOWN_MARKERS = {m for f in CHAT_FORMATS.values() for m in (*f.markers, *f.stop, *f.eot, f.bos) if m}
KNOWN_MARKERS |= {"[INST]", "[/INST]", *FILE_HEADERS, *FIM_STOPS, *(t for f in FIM_FORMATS for t in f.tokens)}


@dataclass
class FamilyTemplates:
    chat_format: str
    templates: dict
    special: dict  # name -> {"id", "text"}
    stop_ids: list[int]
    add_bos: bool


def added_tokens(tokenizer_json: dict) -> dict[str, int]:
    return {t["content"]: t["id"] for t in tokenizer_json.get("added_tokens", [])}


def choose_chat(architecture_family: str, tokens: dict[str, int], override: str | None) -> ChatFormat:
    if override is not None:
        if override not in CHAT_FORMATS:
            raise ConversionError(f"chat format {override!r} is unknown (choose {', '.join(CHAT_FORMATS)})")
        return CHAT_FORMATS[override]
    for fmt in CHAT_FORMATS.values():
        if fmt.markers and all(m in tokens for m in fmt.markers):
            return fmt
    default = CHAT_FORMATS[DEFAULT_CHAT[architecture_family]]
    return default if all(m in tokens for m in default.markers) else CHAT_FORMATS[FALLBACK_CHAT]


def fim_template(tokens: dict[str, int], eot: str) -> dict | None:
    fmt = next((f for f in FIM_FORMATS if all(t in tokens for t in f.tokens)), None)
    if fmt is None:
        return None
    header = next((f"{h}{{path}}\n" for h in FILE_HEADERS if h in tokens), "")
    stops = [eot, *fmt.tokens, *(t for t in FIM_STOPS if t in tokens)]
    return {"order": fmt.name, "file_header": header, "layout": fmt.layout, "stop": list(dict.fromkeys(stops))}


def token_name(text: str) -> str:
    """A manifest name for a special token: `<|im_start|>` -> im_start, `[/INST]` -> end_inst."""
    name = re.sub(r"[^a-z0-9]+", "_", text.lower().replace("/", "end_").replace("▁", "_")).strip("_")
    return name or "token"


def family_templates(architecture_family: str, tokenizer_json: dict, override: str | None = None) -> FamilyTemplates:
    tokens = added_tokens(tokenizer_json)
    chat = choose_chat(architecture_family, tokens, override)
    eot = next((t for t in chat.eot if t in tokens), None)
    if eot is None:
        raise ConversionError(f"tokenizer.json: none of the end-of-text tokens {list(chat.eot)} of the {chat.name} "
                              "chat format is in its added_tokens")
    if chat.bos is not None and chat.bos not in tokens:
        raise ConversionError(f"tokenizer.json: the {chat.name} chat format starts prompts with {chat.bos!r}, which "
                              "the tokenizer lacks")
    stops = [t for t in chat.stop if t in tokens]
    chat_t = {"turn": chat.turn, "generation_prompt": chat.generation_prompt, "roles": ROLES, "stop": stops}
    if chat.turns:
        chat_t["turns"] = dict(chat.turns)
    templates = {"fim": fim_template(tokens, eot), "chat": chat_t, "prompts": TASK_PROMPTS}
    special = {"eot": {"id": tokens[eot], "text": eot}}
    if chat.bos is not None:
        special["bos"] = {"id": tokens[chat.bos], "text": chat.bos}
    used = _template_texts(templates)
    for text, tid in sorted(tokens.items(), key=lambda kv: kv[1]):
        if text in KNOWN_MARKERS and text in used and tid not in {s["id"] for s in special.values()}:
            name = token_name(text)
            special[name if name not in special else f"{name}_{tid}"] = {"id": tid, "text": text}
    stop_ids = sorted({tokens[eot], *(tokens[s] for s in stops)})
    return FamilyTemplates(chat.name, templates, special, stop_ids, chat.bos is not None)


def _template_texts(templates: dict) -> str:
    """Every template string joined, to find which special tokens the templates use."""
    parts = [templates["chat"]["turn"], templates["chat"]["generation_prompt"], *templates["chat"]["stop"],
             *templates["chat"].get("turns", {}).values()]
    if templates["fim"] is not None:
        parts += [templates["fim"]["layout"], templates["fim"]["file_header"], *templates["fim"]["stop"]]
    return "\n".join(parts)
