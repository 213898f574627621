"""Writing a traced graph's weights into the ONNX file one tensor at a time.

The exporter traces the graph with the weights as extra graph inputs (export.py), so the graph it
serialises holds none. `attach_weights` turns those inputs into initializers, writing each tensor's bytes
straight from the module's memory:

- inline: appended to the .onnx file itself. Protobuf merges repeated occurrences of a message field, so
  `ModelProto{graph: G}` followed by `ModelProto{graph: {initializer: [W]}}` parses as G plus W. Nothing is
  ever serialised as a whole, so no second copy of the weights exists (torch's own exporter builds the
  whole protobuf in memory, i.e. a second copy, and cannot pass protobuf's 2 GB limit);
- external: into one `<name>.data` file beside the graph (ONNX external data), for models too large for a
  single protobuf. onnxruntime finds it relative to the .onnx file.
"""
from __future__ import annotations

from pathlib import Path

import onnx
import torch
from onnx import TensorProto
from torch import nn

EXTERNAL_THRESHOLD = 1_500_000_000  # bytes of weights; protobuf cannot parse a file over 2 GB
ALIGN = 4096  # page-aligned offsets let onnxruntime memory-map external data

_DTYPES = {torch.float32: TensorProto.FLOAT, torch.float16: TensorProto.FLOAT16, torch.int64: TensorProto.INT64,
           torch.int32: TensorProto.INT32, torch.bool: TensorProto.BOOL, torch.uint8: TensorProto.UINT8}
_GRAPH_FIELD, _INITIALIZER_FIELD, _RAW_DATA_FIELD = 7, 5, 9  # onnx.proto field numbers


def weight_bytes(module: nn.Module) -> int:
    """Bytes of the module's weights, counting tied ones once."""
    tensors = {**dict(module.named_parameters()), **dict(module.named_buffers())}
    return sum(t.numel() * t.element_size() for t in tensors.values())


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _tag(field: int) -> bytes:
    return _varint((field << 3) | 2)  # wire type 2: length-delimited


def _header(name: str, tensor: torch.Tensor) -> TensorProto:
    if tensor.dtype not in _DTYPES:
        raise TypeError(f"cannot store {name} of dtype {tensor.dtype} in ONNX")
    proto = TensorProto(name=name, data_type=_DTYPES[tensor.dtype])
    proto.dims.extend(tensor.shape)
    return proto


def _raw(tensor: torch.Tensor) -> memoryview:
    # numpy has no bfloat16, but no bfloat16 tensor reaches here (the loader casts to fp32 or fp16)
    return memoryview(tensor.detach().cpu().contiguous().numpy()).cast("B")


def _append_inline(f, name: str, tensor: torch.Tensor) -> None:
    raw = _raw(tensor)
    head = _header(name, tensor).SerializeToString()
    tensor_len = len(head) + len(_tag(_RAW_DATA_FIELD)) + len(_varint(len(raw))) + len(raw)
    init_len = len(_tag(_INITIALIZER_FIELD)) + len(_varint(tensor_len)) + tensor_len
    f.write(_tag(_GRAPH_FIELD) + _varint(init_len) + _tag(_INITIALIZER_FIELD) + _varint(tensor_len))
    f.write(head + _tag(_RAW_DATA_FIELD) + _varint(len(raw)))
    f.write(raw)


def _append_external(f, location: str, name: str, tensor: torch.Tensor) -> TensorProto:
    offset = -f.tell() % ALIGN
    f.write(b"\0" * offset)
    start = f.tell()
    raw = _raw(tensor)
    f.write(raw)
    proto = _header(name, tensor)
    proto.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", str(start)), ("length", str(len(raw)))):
        proto.external_data.add(key=key, value=value)
    return proto


def _materialise(t):
    return t() if callable(t) else t


def attach_weights(path: Path, tensors: dict, io_names: list[str], external: bool,
                   aliases: dict[str, str] | None = None, alias_rows: dict[str, tuple[int, int]] | None = None) -> list[Path]:
    """Moves the graph inputs that are not in `io_names` (the weights, by name in `tensors`) into
    initializers. Returns the files written (the graph, plus its data file when external).

    `aliases` (external data only) maps more initializer names to a weight's name: each becomes an
    initializer over the same bytes of the data file (Graph.alias says why); `alias_rows` narrows an alias
    to rows [start, stop) of the first dimension (Graph.row_view).

    A value in `tensors` may be a function that makes the tensor (a transposed or quantized copy): it is
    called just before that tensor is written and dropped right after, so derived copies never pile up."""
    model = onnx.load(str(path))
    aliases = aliases or {}
    if aliases and not external:
        raise ValueError("initializer aliases need external data")
    weights = [i.name for i in model.graph.input if i.name not in io_names and i.name not in aliases]
    unknown = [n for n in weights if n not in tensors]
    if unknown:
        raise RuntimeError(f"{path}: graph inputs {unknown[:3]} are neither I/O nor weights of the module")
    kept = [i for i in model.graph.input if i.name in io_names]
    missing = [s for s in aliases.values() if s not in weights]
    if missing:
        raise RuntimeError(f"{path}: aliases of {missing[:3]}, which are not weights of the graph")
    del model.graph.input[:]
    model.graph.input.extend(kept)
    if not external:
        with open(path, "wb") as f:
            f.write(model.SerializeToString())
            for name in weights:
                _append_inline(f, name, _materialise(tensors[name]))
        return [path]
    data = path.with_name(path.name + ".data")
    with open(data, "wb") as f:
        written = {n: _append_external(f, data.name, n, _materialise(tensors[n])) for n in weights}
    model.graph.initializer.extend(written.values())
    for name, source in aliases.items():
        alias = TensorProto()
        alias.CopyFrom(written[source])
        alias.name = name
        if name in (alias_rows or {}):
            _narrow(alias, *alias_rows[name])
        model.graph.initializer.append(alias)
    onnx.save(model, str(path))
    return [path, data]


def _narrow(proto: TensorProto, start: int, stop: int) -> None:
    """Points an external-data initializer at rows [start, stop) of its first dimension."""
    where = {e.key: e.value for e in proto.external_data}
    rows = proto.dims[0]
    if not 0 <= start < stop <= rows or int(where["length"]) % rows:
        raise ValueError(f"{proto.name}: rows {start}..{stop} of {rows}")
    row = int(where["length"]) // rows
    proto.dims[0] = stop - start
    for e in proto.external_data:
        if e.key == "offset":
            e.value = str(int(where.get("offset", 0)) + start * row)
        elif e.key == "length":
            e.value = str((stop - start) * row)


# ---- reading a graph's inputs and outputs without its weights --------------------------------------------
def _read_varint(f) -> int | None:
    shift = value = 0
    while True:
        byte = f.read(1)
        if not byte:
            if shift:
                raise ValueError("truncated varint")
            return None
        value |= (byte[0] & 0x7F) << shift
        if byte[0] < 0x80:
            return value
        shift += 7


def _fields(f, end: int):
    """(field number, payload offset, payload length) of each length-delimited field up to `end`; other
    wire types are skipped. Payloads are not read, so weights are never loaded."""
    while f.tell() < end:
        key = _read_varint(f)
        if key is None:
            return
        field, wire = key >> 3, key & 7
        if wire == 0:
            _read_varint(f)
        elif wire in (1, 5):
            f.seek(8 if wire == 1 else 4, 1)
        elif wire == 2:
            length = _read_varint(f)
            start = f.tell()
            if length is None or start + length > end:
                raise ValueError("truncated message")
            yield field, start, length
            f.seek(start + length)
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")


def graph_io_protos(path: Path) -> tuple[list[onnx.ValueInfoProto], list[onnx.ValueInfoProto]]:
    """A model's graph inputs and outputs, read by seeking past everything else: checking a 1.5 GB inline
    graph this way costs kilobytes, where onnx.load would hold the file twice (bytes, then parsed)."""
    inputs, outputs = [], []
    size = Path(path).stat().st_size
    with open(path, "rb") as f:
        graphs = [(start, length) for field, start, length in _fields(f, size) if field == _GRAPH_FIELD]
        if not graphs:
            raise ValueError("no graph in the file")
        for start, length in graphs:  # a graph may come in several chunks (see _append_inline)
            f.seek(start)
            for field, at, n in list(_fields(f, start + length)):
                if field in (11, 12):  # GraphProto.input, GraphProto.output
                    f.seek(at)
                    (inputs if field == 11 else outputs).append(onnx.ValueInfoProto.FromString(f.read(n)))
    return inputs, outputs
