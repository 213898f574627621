"""Reference cases for `chimera verify`: token blocks run through the engine's TargetRunner on a KV cache,
with the outputs a reference implementation gives for the same tokens.

A case is a list of steps on one fresh cache. Every step but the last is a causal block that is committed
in full; the last may be a tree (`parents`, -1 for the root). Expected rows are defined by *paths*: the
row of token i is the last row of a plain causal forward over the cached tokens plus i's path (its
ancestors and itself), which is what a prefill, a decode step and a tree-masked block must all reproduce.
`reference` is any full-sequence forward, ids [T] -> (logits [T,V], hidden [T,D]): transformers in the
tests, the converted torch module in the converter.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np
import torch

Reference = Callable[[list[int]], tuple[torch.Tensor, torch.Tensor]]

# Root, two children, and a grandchild under each child: siblings must not see each other.
TREE_PARENTS = [-1, 0, 0, 1, 2]


def case_inputs(vocab: int, seed: int = 0) -> list[dict]:
    """Prefill (all rows compared), a decode step on a cache, and a tree-masked block on a cache."""
    rng = np.random.default_rng(seed)

    def ids(n: int) -> list[int]:
        return rng.integers(0, vocab, size=n).tolist()

    return [
        {"name": "prefill", "steps": [{"tokens": ids(9)}]},
        {"name": "decode", "steps": [{"tokens": ids(7), "keep": 1}, {"tokens": ids(1), "keep": 1}]},
        {"name": "tree", "steps": [{"tokens": ids(6), "keep": 1},
                                   {"tokens": ids(len(TREE_PARENTS)), "parents": TREE_PARENTS}]},
    ]


def paths(step: dict) -> list[list[int]]:
    """Each token's path within its block: itself after its ancestors (the whole prefix if causal)."""
    tokens, parents = step["tokens"], step.get("parents")
    out = []
    for i in range(len(tokens)):
        if parents is None:
            out.append(tokens[: i + 1])
            continue
        path, j = [], i
        while j != -1:
            path.insert(0, tokens[j])
            j = parents[j]
        out.append(path)
    return out


@torch.no_grad()
def fill_expected(cases: list[dict], reference: Reference) -> list[dict]:
    """Adds `expect` (full logits rows of the kept tokens, hidden rows of all tokens) to every step."""
    for case in cases:
        cached: list[int] = []
        for step in case["steps"]:
            rows = _last_rows(reference, [cached + p for p in paths(step)])
            logits = torch.stack([r[0] for r in rows]).float()
            hidden = torch.stack([r[1] for r in rows]).float()
            keep = step.get("keep", len(step["tokens"]))
            step["expect"] = {"logits": _rounded(logits[len(rows) - keep:]), "hidden": _rounded(hidden)}
            cached += step["tokens"]
    return cases


def _last_rows(reference: Reference, sequences: list[list[int]]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The last row of a causal forward over each sequence. A sequence that is a prefix of a longer one
    reads its row from the longer one's forward (causal attention makes them equal), so a block costs one
    forward per leaf instead of one per token: that matters for a 7B model on a CPU."""
    done: dict[tuple[int, ...], tuple[torch.Tensor, torch.Tensor]] = {}
    for seq in sorted(map(tuple, sequences), key=len, reverse=True):
        if not any(s[: len(seq)] == seq for s in done):
            done[seq] = reference(list(seq))
    out = []
    for seq in map(tuple, sequences):
        logits, hidden = done[next(s for s in done if s[: len(seq)] == seq)]
        out.append((logits[len(seq) - 1], hidden[len(seq) - 1]))
    return out


def _rounded(t: torch.Tensor) -> list[list[float]]:
    # float32 has ~7 significant digits; 9 keep every value exact through JSON
    return [[float(f"{v:.9g}") for v in row] for row in t.tolist()]


def write_cases(path: Path, cases: list[dict], tolerance: float | None, note: str = "",
                min_agreement: float | None = None) -> None:
    """`tolerance` bounds every difference; a quantized package has none and is judged by `min_agreement`,
    the share of rows whose greedy token must match the reference's."""
    body = {"tolerance": tolerance, "note": note, "cases": cases}
    if min_agreement is not None:
        body["min_agreement"] = min_agreement
    path.write_text(json.dumps(body) + "\n")


def compact_expected(cases: list[dict], max_logits: int = 2048, max_hidden: int = 512) -> list[dict]:
    """Keeps a large model's verify.json small: the logits at every row's top 8 ids plus an even spread of
    ids, and an even spread of hidden dimensions. Small models keep full rows."""
    steps = [s for c in cases for s in c["steps"]]
    vocab, width = len(steps[0]["expect"]["logits"][0]), len(steps[0]["expect"]["hidden"][0])
    ids = None
    if vocab > max_logits:
        top = {int(i) for s in steps for row in s["expect"]["logits"] for i in np.argsort(row)[-8:]}
        ids = sorted(top | set(np.linspace(0, vocab - 1, 256).astype(int).tolist()))
    dims = np.linspace(0, width - 1, max_hidden).astype(int).tolist() if width > max_hidden else None
    for s in steps:
        e = s["expect"]
        if ids is not None:
            e["logit_ids"], e["logits"] = ids, [[row[i] for i in ids] for row in e["logits"]]
        if dims is not None:
            e["hidden_dims"], e["hidden"] = dims, [[row[d] for d in dims] for row in e["hidden"]]
    return cases
