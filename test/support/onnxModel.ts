/**
 * Writes a tiny real ONNX model (Y = A + B over float vectors of any length) without Python.
 * The engine tier uses it to prove that onnxruntime-node can load and run a model in a real
 * process before the model toolkit produces real packages. ONNX files are protobuf messages, so a
 * few lines of protobuf encoding (field numbers from onnx/onnx.proto) are all that is needed.
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

/** Encodes one message; numbers become varints (wire type 0), strings and bytes length-delimited (wire type 2). */
function message(...fields: Field[]): Uint8Array {
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

const FLOAT = 1;

/** ValueInfoProto for a float tensor of shape [n], with n symbolic. */
function floatVector(name: string): Uint8Array {
  const dim = message([2, 'n']); // Dimension.dim_param
  const shape = message([1, dim]); // TensorShapeProto.dim
  const tensorType = message([1, FLOAT], [2, shape]); // TypeProto.Tensor elem_type, shape
  const type = message([1, tensorType]); // TypeProto.tensor_type
  return message([1, name], [2, type]); // ValueInfoProto name, type
}

/** The bytes of an ONNX model computing `Y = Add(A, B)` (IR version 8, opset 13). */
export function addModel(): Uint8Array {
  const node = message([1, 'A'], [1, 'B'], [2, 'Y'], [3, 'add'], [4, 'Add']);
  const graph = message([1, node], [2, 'add_graph'], [11, floatVector('A')], [11, floatVector('B')], [12, floatVector('Y')]);
  const opset = message([1, ''], [2, 13]);
  return message([1, 8], [2, 'chimera-code tests'], [7, graph], [8, opset]);
}

/**
 * A script for `node -e` that loads onnxruntime-node from `ortPath`, runs the model at `modelPath`
 * on the CPU execution provider and prints one JSON line with what it saw.
 */
export function runAddModelScript(ortPath: string, modelPath: string): string {
  return `
const ort = require(${JSON.stringify(ortPath)});
(async () => {
  const session = await ort.InferenceSession.create(${JSON.stringify(modelPath)}, { executionProviders: ['cpu'] });
  const a = new ort.Tensor('float32', Float32Array.from([1, 2, 3]), [3]);
  const b = new ort.Tensor('float32', Float32Array.from([10, 20, 30]), [3]);
  const { Y } = await session.run({ A: a, B: b });
  console.log(JSON.stringify({
    backends: ort.listSupportedBackends(),
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    y: Array.from(Y.data),
    dims: Y.dims,
  }));
  await session.release();
})().catch((error) => { console.error(error); process.exit(1); });
`;
}
