/**
 * One run of a freshly created GPU session on the smallest input its graph accepts, before the engine
 * commits to that provider. A provider can create a session and still fail at the first run (an operator
 * it cannot execute, a driver fault) or return garbage; found at load time, that is a refused candidate
 * and the next one is tried, rather than an engine that fails every request.
 */
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import type { Ort, Session } from '../session';

/** Past key/value inputs: their sequence dimension is the cached length, 0 for the smoke run. */
const PAST = /past/i;
/** Integer inputs that must be 1 to mean "attend" or "keep one position". */
const ONES = /mask|logits_to_keep/i;

function smokeTensor(ort: Ort, meta: InferenceSession.ValueMetadata): Tensor | null {
  if (!meta.isTensor) return null;
  const dims = meta.shape.map((d) => (typeof d === 'number' ? d : PAST.test(meta.name) ? 0 : 1));
  const size = dims.reduce((a, b) => a * b, 1);
  switch (meta.type) {
    case 'float32':
      return new ort.Tensor('float32', new Float32Array(size), dims);
    case 'int64':
      return new ort.Tensor('int64', new BigInt64Array(size).fill(ONES.test(meta.name) ? 1n : 0n), dims);
    case 'int32':
      return new ort.Tensor('int32', new Int32Array(size).fill(ONES.test(meta.name) ? 1 : 0), dims);
    case 'bool':
      return new ort.Tensor('bool', new Uint8Array(size), dims);
    default:
      return null;
  }
}

/** Runs the session once; throws with what went wrong, in words. */
export async function smokeRun(ort: Ort, session: Session): Promise<void> {
  const feeds: Record<string, Tensor> = {};
  for (const meta of session.inputMetadata) {
    const tensor = smokeTensor(ort, meta);
    if (!tensor) return; // an input type this check cannot fill: leave the graph to its first real run
    feeds[meta.name] = tensor;
  }
  const outputs = await session.run(feeds);
  try {
    for (const [name, t] of Object.entries(outputs)) {
      if (t.location !== 'cpu' || t.type !== 'float32') continue;
      const data = t.data as Float32Array;
      const bad = data.findIndex((v) => !Number.isFinite(v));
      if (bad !== -1) throw new Error(`the first run gave ${data[bad]} in ${name}`);
    }
  } finally {
    for (const t of Object.values(outputs)) if (t.location === 'gpu-buffer') t.dispose();
  }
}
