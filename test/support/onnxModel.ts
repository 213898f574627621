/**
 * A tiny real ONNX model (Y = A + B over float vectors of any length), written without Python by the
 * engine's own ONNX writer. The engine tier uses it to prove onnxruntime-node loads and runs a model in
 * a real process, independent of any model package.
 */
import { ElemType, model, node, valueInfo } from '../../src/core/onnxGraph';

/** The bytes of an ONNX model computing `Y = Add(A, B)` (IR version 8, opset 13). */
export function addModel(): Uint8Array {
  return model({
    name: 'add_graph',
    nodes: [node('Add', ['A', 'B'], ['Y'], 'add')],
    inputs: [valueInfo('A', ElemType.float, ['n']), valueInfo('B', ElemType.float, ['n'])],
    outputs: [valueInfo('Y', ElemType.float, ['n'])],
  });
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
