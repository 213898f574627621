/**
 * A load-time check that a GPU provider computes a block of query rows as it computes the same rows in
 * smaller pieces. Speculative decoding verifies many tokens in one forward pass, and its output equals
 * autoregressive decoding only if a block and single steps agree to the last bits.
 *
 * Found by the WebGPU tier: on SwiftShader, onnxruntime 1.30's WebGPU MultiHeadAttention returns wrong
 * values (logits off by 2 and more) for 32 query rows or more, while 31 rows agree with the CPU to 1e-5.
 * A wrong kernel on a user's adapter would break the product's central promise silently, so each GPU
 * load measures the largest block that agrees with half-blocks, and the decoder cuts prompts and trees
 * to it. On a sound adapter this costs a few small forward passes.
 */
import { createTarget, type TargetModel } from '../target';
import type { LoadedModel } from '../model';

/**
 * Block sizes up to those the decoder uses (trees of up to 32 rows, prompt chunks of 256), checked from the
 * smallest, each against pieces of the largest size already found sound (single steps at first).
 */
const BLOCKS = [2, 4, 8, 16, 32, 256] as const;
/** A sound kernel differs in the last bits (1e-5 measured); a broken one by whole units. */
const RELATIVE_TOLERANCE = 1e-2;

type Checkable = Pick<LoadedModel, 'manifest' | 'target' | 'device' | 'layout' | 'context' | 'draft' | 'pkg'>;

/** Token ids spread over the vocabulary, deterministic. */
function probeTokens(vocab: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => 16 + ((i * 7919) % Math.max(1, vocab - 16)));
}

/** The last row's logits after running `tokens` in pieces of `piece`. */
async function lastLogits(runner: TargetModel, tokens: readonly number[], piece: number): Promise<Float32Array> {
  await runner.truncate(0);
  let logits = new Float32Array(0);
  for (let start = 0; start < tokens.length; start += piece) {
    const chunk = tokens.slice(start, start + piece);
    const out = await runner.forward(chunk, 1);
    logits = Float32Array.from(out.logits);
    await out.commit(chunk.map((_, i) => i));
  }
  return logits;
}

function agree(a: Float32Array, b: Float32Array): boolean {
  let scale = 1;
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(a[i]!));
    worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  }
  return a.length === b.length && worst <= RELATIVE_TOLERANCE * scale;
}

/**
 * The most query rows one forward pass may take on this model's provider, or null when every block size
 * the decoder uses agrees with half-blocks (always null on the CPU provider, which is the reference).
 */
export async function largestSoundBlock(model: Checkable): Promise<number | null> {
  if (model.device.kind === 'cpu') return null;
  const largest = Math.min(BLOCKS[BLOCKS.length - 1], Math.floor(model.context / 2));
  const runner = await createTarget(model as LoadedModel, largest);
  try {
    const tokens = probeTokens(model.manifest.model.vocab_size, largest);
    let sound = 1;
    for (const rows of BLOCKS.filter((b) => b <= largest)) {
      const whole = await lastLogits(runner, tokens.slice(0, rows), rows);
      const pieces = await lastLogits(runner, tokens.slice(0, rows), sound);
      if (!agree(whole, pieces)) return sound;
      sound = rows;
    }
    return null;
  } finally {
    runner.dispose();
  }
}
