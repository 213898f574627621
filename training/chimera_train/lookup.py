"""Embedding rows read by the engine from the package's data file, not by the graph.

A quantized target with external data takes its token embeddings as an input (`inputs_embeds`); the
engine reads each token's row of the quantized table (`embed.q`, the same bytes the tied LM head
multiplies by) and its block scales straight from target.onnx.data, and dequantizes them. Looked up
inside the graph, the table was memory-mapped and every row read pulled its neighbourhood into the
process's resident memory (64 KB per fault on Linux): a few hundred distinct tokens made 58 MB of a 0.5B
model's RSS, and a long session drifts toward the whole table (136 MB; 545 MB for a 7B vocabulary).
Read with pread, rows stay in the page cache, shared and reclaimable, and out of the process's RSS.

The manifest's `quantization.embedding_lookup` says where: {file, values_offset, scales_offset}; rows
are `model.vocab_size`, each ceil(d_model / block) blocks of `block_size` values of `bits` bits, with one
float32 scale per block, value = (q - 2^(bits-1)) * scale (onnx_build.quantize_blocks).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx

HOST_LOOKUP_INPUT = "inputs_embeds"


def lookup_spec(graph: Path) -> dict:
    """Where embed.q and embed.scales lie in the graph's external data file."""
    model = onnx.load(str(graph), load_external_data=False)
    where = {t.name: {e.key: e.value for e in t.external_data} for t in model.graph.initializer
             if t.name in ("embed.q", "embed.scales")}
    if set(where) != {"embed.q", "embed.scales"} or where["embed.q"]["location"] != where["embed.scales"]["location"]:
        raise ValueError(f"{graph}: embed.q and embed.scales are not both in one external data file")
    return {"file": where["embed.q"]["location"], "values_offset": int(where["embed.q"].get("offset", 0)),
            "scales_offset": int(where["embed.scales"].get("offset", 0))}


def host_embeddings(folder: Path, manifest: dict, ids) -> np.ndarray:
    """[1, T, d_model] float32 embeddings of `ids`, computed as the engine does (src/core/embeddings.ts)."""
    q, m = manifest["quantization"], manifest["model"]
    spec = q["embedding_lookup"]
    bits, block, width, vocab = q["bits"], q["block_size"], m["d_model"], m["vocab_size"]
    blocks = -(-width // block)
    row_bytes = blocks * block * bits // 8
    values = np.memmap(Path(folder) / spec["file"], np.uint8, "r", spec["values_offset"], (vocab, row_bytes))
    scales = np.memmap(Path(folder) / spec["file"], np.float32, "r", spec["scales_offset"], (vocab, blocks))
    rows = values[np.asarray(ids, dtype=np.int64)].astype(np.int32)
    if bits == 4:  # two values per byte, the lower nibble first
        rows = np.stack([rows & 15, rows >> 4], axis=-1).reshape(len(ids), -1)
    centred = (rows - (1 << (bits - 1))).reshape(len(ids), blocks, block).astype(np.float32)
    out = (centred * scales[np.asarray(ids, dtype=np.int64)][..., None]).reshape(len(ids), -1)[:, :width]
    return out[None].astype(np.float32)
