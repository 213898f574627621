"""A small ONNX graph builder for the hand-written inference graphs (graphs.py).

Tracing through torch.onnx records every reshape, shape read and transpose of the eager code: the traced
target had 716 nodes and the traced draft 901, and on a CPU each node costs microseconds per call whatever
its size. Written by hand, the same computation uses onnxruntime's fused operators (RMSNorm with the
residual add, rotary embedding, attention over a KV cache) and weights stored in the layout MatMul reads,
so nothing is transposed at run time and weight quantizers see plain MatMul initializers.

Weights are kept as torch tensors and written tensor by tensor (onnx_weights.attach_weights), so building
never holds a second copy of them.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

from .onnx_weights import attach_weights

MS = "com.microsoft"
OPSET = 17

_ELEM = {"float32": TensorProto.FLOAT, "int64": TensorProto.INT64, "int32": TensorProto.INT32}


@dataclass(frozen=True)
class Quant:
    """Weight-only quantization of MatMul weights (onnxruntime's MatMulNBits): symmetric, per block of
    `block` input features. accuracy_level 4 computes in int8 with fp32 accumulation; its rows do not depend
    on how many rows are computed together, which keeps verification exact (DESIGN.md 10.3)."""
    bits: int = 8
    block: int = 32
    accuracy_level: int = 4


def draft_quant(width: int) -> Quant | None:
    """int8 blocks for a draft's weights (the widths of real models are multiples of the block size)."""
    return Quant(8) if width % Quant().block == 0 else None


QUANT_ROWS = 4096  # rows quantized at a time: the temporaries of a 151,936-row table would be 0.5 GB each


def quantize_blocks(weight: torch.Tensor, q: Quant) -> tuple[np.ndarray, np.ndarray]:
    """nn.Linear weight [N, K] -> (packed uint8 [N, K/block, block*bits/8], scales float32 [N * K/block]).

    Quantized QUANT_ROWS rows at a time into the output arrays: done whole, a 0.5B model's embedding made
    several fp32 and int32 temporaries of its full size, 1.4 GB above the weights at the converter's peak."""
    n, k = weight.shape
    blocks = -(-k // q.block)
    packed = np.empty((n, blocks, q.block * q.bits // 8), np.uint8)
    scales = np.empty((n, blocks), np.float32)
    for start in range(0, n, QUANT_ROWS):
        rows = weight[start:start + QUANT_ROWS]
        packed[start:start + len(rows)], scales[start:start + len(rows)] = _quantize_rows(rows, q)
    return packed, scales.reshape(-1)


def _quantize_rows(weight: torch.Tensor, q: Quant) -> tuple[np.ndarray, np.ndarray]:
    w = weight.detach().to(torch.float32).cpu().numpy()
    n, k = w.shape
    if k % q.block:  # the last block is padded with zeros (MatMulNBits takes ceil(K / block) blocks)
        w = np.pad(w, ((0, 0), (0, q.block - k % q.block)))
    blocks = w.reshape(n, -1, q.block)
    top = (1 << (q.bits - 1)) - 1  # 127 or 7
    scale = np.abs(blocks).max(axis=-1, keepdims=True) / top
    scale[scale == 0] = 1.0
    values = np.clip(np.rint(blocks / scale), -top - 1, top).astype(np.int32) + (top + 1)  # zero point 2^(bits-1)
    if q.bits == 8:
        packed = values.astype(np.uint8)
    elif q.bits == 4:
        packed = (values[..., 0::2] | (values[..., 1::2] << 4)).astype(np.uint8)
    else:
        raise ValueError(f"{q.bits}-bit weights are not supported (8 or 4)")
    return packed, scale[..., 0].astype(np.float32)


class Stacked:
    """Weights stacked along the output rows (q, k and v; gate and up), made only when written.

    Concatenated at once, a 0.5B model's fused weights were a second copy of most of the model (0.9 GB of
    the converter's 3.3 GB peak); made one at a time as the file is written, only one layer's exists."""

    def __init__(self, parts: list[torch.Tensor]):
        self.parts = [p.detach() for p in parts]
        self.shape = torch.Size([sum(p.shape[0] for p in parts), *parts[0].shape[1:]])

    def detach(self) -> "Stacked":
        return self

    def tensor(self) -> torch.Tensor:
        return torch.cat(self.parts)


def _made(weight) -> torch.Tensor:
    return weight.tensor() if isinstance(weight, Stacked) else weight


class Graph:
    def __init__(self, name: str):
        self.name = name
        self.nodes: list[onnx.NodeProto] = []
        self.inputs: list[onnx.ValueInfoProto] = []
        self.outputs: list[onnx.ValueInfoProto] = []
        self.weights: dict = {}
        self.weight_info: dict[str, tuple[list[int], int]] = {}
        self.constants: list[onnx.TensorProto] = []
        self.aliases: dict[str, str] = {}
        self.alias_rows: dict[str, tuple[int, int]] = {}
        self._ids = itertools.count()

    # ---- declarations --------------------------------------------------------------------------------
    def input(self, name: str, dtype: str, shape: list) -> str:
        self.inputs.append(helper.make_tensor_value_info(name, _ELEM[dtype], shape))
        return name

    def output(self, value: str, name: str, dtype: str, shape: list) -> str:
        if value != name:
            self.op("Identity", value, name=name)
        self.outputs.append(helper.make_tensor_value_info(name, _ELEM[dtype], shape))
        return name

    def weight(self, name: str, tensor: torch.Tensor | np.ndarray) -> str:
        if isinstance(tensor, np.ndarray):
            tensor = torch.from_numpy(np.ascontiguousarray(tensor))
        self.weights[name] = tensor.detach().contiguous()
        self.weight_info[name] = (list(tensor.shape), _torch_elem(tensor))
        return name

    def lazy_weight(self, name: str, make, shape: list[int], dtype: torch.dtype) -> str:
        """A weight made only when the file is written (a transposed or quantized copy of a module's
        tensor), so a large model's derived copies never exist all at once."""
        self.weights[name] = make
        self.weight_info[name] = (list(shape), _torch_elem(torch.empty(0, dtype=dtype)))
        return name

    def alias(self, name: str, source: str) -> str:
        """A second initializer over `source`'s bytes, for a node that must not share it with another.

        onnxruntime can free a weight's original bytes once a kernel has prepacked them (MatMulNBits),
        but not while another node still reads them: a quantized tied embedding serves both the lookup and
        the LM head, and sharing it kept the whole table resident beside the head's packed copy (130 MB for a
        0.5B model). With external data the alias points at the same offset of the same file, so the disk
        holds one copy and the lookup only pages in the rows it reads. Inline graphs hold their bytes in
        the protobuf, so there the alias is folded back into the source (sharing, as before)."""
        self.aliases[name] = source
        self.weight_info[name] = self.weight_info[source]
        return name

    def row_view(self, name: str, source: str, start: int, stop: int) -> str:
        """An alias over rows [start, stop) of `source` (its first dimension): a part of a weight, read
        from the same bytes of the data file (external data only)."""
        shape, elem = self.weight_info[source]
        self.aliases[name] = source
        self.alias_rows[name] = (start, stop)
        self.weight_info[name] = ([stop - start, *shape[1:]], elem)
        return name

    def matmul_nbits(self, x: str, packed: str, scales: str, k: int, n: int, quant, part_bytes: int | None = None,
                     extra: tuple[str, ...] = ()) -> str:
        """x @ W.T for a weight quantized in blocks. With `part_bytes`, a large W is read as row parts of at
        most that size, each its own MatMulNBits, joined by a Concat: onnxruntime holds a weight's bytes and
        its prepacked copy together while it packs, so the largest weight sets the load's peak memory (an LM
        head: 136 MB for a 0.5B model, 545 MB for a 7B one), and parts bound it."""
        blocks = -(-k // quant.block)
        row_bytes = blocks * quant.block * quant.bits // 8
        parts = 1 if part_bytes is None or extra else -(-n * row_bytes // part_bytes)
        attrs = dict(domain=MS, K=k, bits=quant.bits, block_size=quant.block, accuracy_level=quant.accuracy_level)
        if parts <= 1 or n <= ROW_TILE:
            return self.op("MatMulNBits", x, packed, scales, *extra, N=n, **attrs)
        rows = -(-n // parts // ROW_TILE) * ROW_TILE
        outs = [self.op("MatMulNBits", x, self.row_view(f"{packed}.rows{start}", packed, start, min(n, start + rows)),
                        self.row_view(f"{scales}.rows{start}", scales, start * blocks, min(n, start + rows) * blocks),
                        N=min(n, start + rows) - start, **attrs)
                for start in range(0, n, rows)]
        return self.op("Concat", *outs, axis=-1)

    def const(self, value, dtype=np.int64) -> str:
        name = f"c{next(self._ids)}"
        self.constants.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    # ---- nodes ---------------------------------------------------------------------------------------
    def op(self, op_type: str, *inputs: str, outputs: int = 1, domain: str = "", name: str | None = None, **attrs):
        """Adds a node; returns its output name (or a tuple of names when `outputs` > 1). Empty strings
        skip optional inputs; pass `name` to fix the (single) output's name."""
        outs = [name] if name and outputs == 1 else [f"{op_type.lower()}{next(self._ids)}" for _ in range(outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, domain=domain, **attrs))
        return outs[0] if outputs == 1 else tuple(outs)

    def linear(self, x: str, name: str, weight: torch.Tensor | Stacked, quant: Quant | None = None, bias: torch.Tensor | None = None,
               part_bytes: int | None = None) -> str:
        """x @ weight.T (+ bias), weight in nn.Linear layout [out, in]; `part_bytes`: see matmul_nbits."""
        n, k = weight.shape
        if quant is None:
            w = self.lazy_weight(name, lambda: _made(weight).detach().T.contiguous().to(torch.float32), [k, n], torch.float32)
            y = self.op("MatMul", x, w)
        else:
            blocks = -(-k // quant.block)
            cache: dict = {}

            def part(i: int):
                def make():  # blocks are written first, then scales: quantize once, drop after the second
                    if "q" not in cache:
                        cache["q"] = [torch.from_numpy(a) for a in quantize_blocks(_made(weight), quant)]
                    return cache["q"][0] if i == 0 else cache.pop("q")[1]
                return make

            packed = self.lazy_weight(f"{name}.q", part(0), [n, blocks, quant.block * quant.bits // 8], torch.uint8)
            scales = self.lazy_weight(f"{name}.scales", part(1), [n * blocks], torch.float32)
            # The bias rides in the operator's own input rather than a separate Add node.
            extra = ("", "", self.weight(f"{name}.bias", bias)) if bias is not None else ()  # zero points, g_idx, bias
            return self.matmul_nbits(x, packed, scales, k, n, quant, part_bytes, extra)
        return y if bias is None else self.op("Add", y, self.weight(f"{name}.bias", bias))

    def rms_norm(self, x: str, name: str, weight: torch.Tensor, eps: float) -> str:
        return self.op("SimplifiedLayerNormalization", x, self.weight(name, weight), axis=-1, epsilon=eps, stash_type=1)

    def add_rms_norm(self, x: str, residual: str, name: str, weight: torch.Tensor, eps: float) -> tuple[str, str]:
        """(norm(x + residual), x + residual) in one fused node."""
        normed, _, _, total = self.op("SkipSimplifiedLayerNormalization", x, residual, self.weight(name, weight),
                                      outputs=4, domain=MS, epsilon=eps)
        return normed, total

    def block_input(self, pending: str | None, x: str, name: str, weight: torch.Tensor, eps: float) -> tuple[str, str]:
        """A pre-norm block's input: (norm(x), x) for the first block, else the previous block's output
        `pending` added to the residual stream in the fused node: (norm(x + pending), x + pending)."""
        if pending is None:
            return self.rms_norm(x, name, weight, eps), x
        return self.add_rms_norm(pending, x, name, weight, eps)

    def silu_mul(self, gate: str, up: str) -> str:
        return self.op("Mul", self.op("Mul", gate, self.op("Sigmoid", gate)), up)

    # ---- writing -------------------------------------------------------------------------------------
    def save(self, path: Path, external_data: bool = False) -> list[Path]:
        """Writes the graph; weights are streamed in as initializers afterwards (attach_weights)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        aliases = self.aliases if external_data else {}
        if self.alias_rows and not external_data:
            raise ValueError("row views of weights need external data")
        if not external_data:
            for node in self.nodes:
                node.input[:] = [self.aliases.get(n, n) for n in node.input]
        info = {n: v for n, v in self.weight_info.items() if n not in self.aliases or n in aliases}
        weight_inputs = [helper.make_tensor_value_info(n, elem, shape) for n, (shape, elem) in info.items()]
        graph = helper.make_graph(self.nodes, self.name, self.inputs + weight_inputs, self.outputs, self.constants)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid(MS, 1)],
                                  producer_name="chimera_train")
        model.ir_version = 9
        onnx.save(model, str(path))
        return attach_weights(path, self.weights, [i.name for i in self.inputs], external_data, aliases, self.alias_rows)


# Parts start at multiples of this many rows: onnxruntime's kernels compute columns in tiles, and a part
# that began mid-tile would round the columns around its start differently from the whole weight.
ROW_TILE = 64


def _torch_elem(t: torch.Tensor) -> int:
    return {torch.float32: TensorProto.FLOAT, torch.float16: TensorProto.FLOAT16, torch.uint8: TensorProto.UINT8,
            torch.int64: TensorProto.INT64, torch.int32: TensorProto.INT32}[t.dtype]


def rope_tables(positions: int, head_dim: int, theta: float, inv_freq: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin caches [positions, head_dim/2] for onnxruntime's RotaryEmbedding and GroupQueryAttention."""
    if inv_freq is None:
        inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    angles = torch.arange(positions, dtype=torch.float32)[:, None] * inv_freq[None, :]
    return angles.cos().contiguous(), angles.sin().contiguous()
