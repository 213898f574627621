/**
 * A minimal ONNX model writer, for the small helper graphs the engine builds at run time (the on-device
 * KV-cache update). ONNX files are protobuf messages; field numbers follow onnx/onnx.proto.
 */

type Field = [fieldNumber: number, value: number | string | Uint8Array];

function varint(value: number): number[] {
  const bytes: number[] = [];
  let v = value;
  while (v > 0x7f) {
    bytes.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  bytes.push(v);
  return bytes;
}

/** Encodes one message; numbers become varints (wire type 0), strings and bytes length-delimited. */
export function message(...fields: Field[]): Uint8Array {
  const out: number[] = [];
  for (const [field, value] of fields) {
    if (typeof value === 'number') {
      out.push(...varint(field << 3), ...varint(value));
    } else {
      const bytes = typeof value === 'string' ? new TextEncoder().encode(value) : value;
      out.push(...varint((field << 3) | 2), ...varint(bytes.length), ...bytes);
    }
  }
  return Uint8Array.from(out);
}

export const ElemType = { float: 1, int64: 7 } as const;
export type Dim = number | string;

/** ValueInfoProto: a named tensor of the given element type and shape (numbers fixed, strings symbolic). */
export function valueInfo(name: string, elemType: number, dims: readonly Dim[]): Uint8Array {
  const dimMessages = dims.map((d) => (typeof d === 'number' ? message([1, d]) : message([2, d])));
  const shape = message(...dimMessages.map((d): Field => [1, d]));
  const tensorType = message([1, elemType], [2, shape]);
  return message([1, name], [2, message([1, tensorType])]);
}

/** AttributeProto of type INT. */
export function intAttribute(name: string, value: number): Uint8Array {
  return message([1, name], [20, 2], [3, value]);
}

export function node(op: string, inputs: readonly string[], outputs: readonly string[], name: string, attributes: Uint8Array[] = []): Uint8Array {
  return message(...inputs.map((i): Field => [1, i]), ...outputs.map((o): Field => [2, o]), [3, name], [4, op], ...attributes.map((a): Field => [5, a]));
}

/** TensorProto initializer of int64 values (raw little-endian data). */
export function int64Initializer(name: string, values: readonly number[]): Uint8Array {
  const raw = new Uint8Array(values.length * 8);
  const view = new DataView(raw.buffer);
  values.forEach((v, i) => view.setBigInt64(i * 8, BigInt(v), true));
  return message([1, values.length], [2, ElemType.int64], [8, name], [9, raw]);
}

export interface GraphSpec {
  name: string;
  nodes: Uint8Array[];
  initializers?: Uint8Array[];
  inputs: Uint8Array[];
  outputs: Uint8Array[];
  opset?: number;
}

export function model(spec: GraphSpec): Uint8Array {
  const graph = message(
    ...spec.nodes.map((n): Field => [1, n]),
    [2, spec.name],
    ...(spec.initializers ?? []).map((t): Field => [5, t]),
    ...spec.inputs.map((i): Field => [11, i]),
    ...spec.outputs.map((o): Field => [12, o]),
  );
  return message([1, 8], [2, 'chimera-code'], [7, graph], [8, message([1, ''], [2, spec.opset ?? 13])]);
}

/**
 * The KV-cache update for `pairs` cache tensors of shape [1,P,H,Dh]: for each pair i,
 * `updated_i = Concat(past_i[:, :keep_length], Gather(present_i, keep, axis=1))`.
 * It rolls back (keep_length < P) and compacts the accepted rows of a verified tree in one run,
 * entirely on the device that holds the tensors.
 */
export function kvUpdateModel(pairs: number, heads: number, headDim: number): Uint8Array {
  const nodes: Uint8Array[] = [];
  const inputs: Uint8Array[] = [valueInfo('keep', ElemType.int64, ['K']), valueInfo('keep_length', ElemType.int64, [1])];
  const outputs: Uint8Array[] = [];
  for (let i = 0; i < pairs; i++) {
    inputs.push(valueInfo(`past_${i}`, ElemType.float, [1, 'P', heads, headDim]), valueInfo(`present_${i}`, ElemType.float, [1, 'T', heads, headDim]));
    outputs.push(valueInfo(`updated_${i}`, ElemType.float, [1, 'Q', heads, headDim]));
    nodes.push(
      node('Slice', [`past_${i}`, 'zero', 'keep_length', 'seq_axis'], [`kept_${i}`], `slice_${i}`),
      node('Gather', [`present_${i}`, 'keep'], [`accepted_${i}`], `gather_${i}`, [intAttribute('axis', 1)]),
      node('Concat', [`kept_${i}`, `accepted_${i}`], [`updated_${i}`], `concat_${i}`, [intAttribute('axis', 1)]),
    );
  }
  return model({
    name: 'kv_update',
    nodes,
    initializers: [int64Initializer('zero', [0]), int64Initializer('seq_axis', [1])],
    inputs,
    outputs,
  });
}
