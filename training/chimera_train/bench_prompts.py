"""Benchmark prompts from held-out code (the validation split, never trained on):
- `code.jsonl`: the text before a random line of a file, for plain continuation;
- `fim.jsonl`: the same with the text after the cursor as `suffix`;
- `refactor.jsonl`: edit requests on held-out functions (rename an identifier, drop comments), where
  the answer mostly copies the input: the case prompt lookup (speculative edits) is for.
"""
from __future__ import annotations

import json
import random
from pathlib import Path

from .chat_samples import identifiers, jsdoc_units, python_units
from .corpus import read_documents

MIN_PROMPT_CHARS = 400
MAX_PROMPT_CHARS = 1800


def code_prompts(docs: list[dict], rng: random.Random, n: int) -> list[dict]:
    out = []
    for doc in docs:
        lines = doc["text"].splitlines(keepends=True)
        if len(lines) < 40:
            continue
        cut = rng.randrange(20, len(lines) - 10)
        prefix = "".join(lines[:cut])[-MAX_PROMPT_CHARS:]
        if len(prefix) < MIN_PROMPT_CHARS:
            continue
        suffix = "".join(lines[cut:])[:600]
        out.append({"prompt": prefix, "suffix": suffix, "source": doc["path"], "lang": doc["lang"]})
        if len(out) == n:
            break
    return out


def refactor_prompts(docs: list[dict], rng: random.Random, n: int) -> list[dict]:
    out = []
    for doc in docs:
        units = list(python_units(doc["text"]) if doc["lang"] == "python" else jsdoc_units(doc["text"]))
        rng.shuffle(units)
        for name, _prose, code, _bare in units:
            names = identifiers(code, doc["lang"])
            if not names or len(code) < 300:
                continue
            old = rng.choice(names)
            out.append({"task": "edit", "code": code, "instruction": f"Rename `{old}` to `{old}_value`",
                        "language": doc["lang"], "prompt": code, "source": doc["path"]})
            break
        if len(out) == n:
            break
    return out


def write_bench_prompts(corpus: Path, out_dir: Path, n: int = 50, seed: int = 7) -> dict[str, int]:
    rng = random.Random(seed)
    docs = list(read_documents(corpus / "val.jsonl"))
    rng.shuffle(docs)
    out_dir.mkdir(parents=True, exist_ok=True)
    code = code_prompts(docs, rng, n)
    sets = {
        "code.jsonl": [{k: v for k, v in p.items() if k != "suffix"} for p in code],
        "fim.jsonl": code,
        "refactor.jsonl": refactor_prompts(docs, rng, n // 2),
    }
    for name, rows in sets.items():
        (out_dir / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return {name: len(rows) for name, rows in sets.items()}
