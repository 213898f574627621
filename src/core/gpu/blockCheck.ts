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
 *
 * Trees are checked too (`treesSound`): on SwiftShader, the WebGPU GroupQueryAttention of onnxruntime 1.30
 * computes a tree as if it were a chain (every node sees all earlier nodes, whatever the tree mask says),
 * so on a grouped-query model (Qwen, Llama) a drafted alternative's logits were off by 3-7 while chains
 * agreed to 1e-6. Where trees are unsound the decoder verifies chains only, which such a kernel gets right.
 */
import { buildShape } from '../tree';
import { createTarget, type TargetModel } from '../target';
import type { LoadedModel } from '../model';

/**
 * Block sizes up to those the decoder uses (trees of up to 32 rows, prompt chunks of 256), checked from the
 * smallest, each against pieces of the largest size already found sound (single steps at first).
 */
const BLOCKS = [2, 4, 8, 16, 32, 256] as const;
/** A sound kernel differs in the last bits (1e-5 measured); a broken one by whole units. */
const RELATIVE_TOLERANCE = 1e-2;

type Checkable = Pick<LoadedModel, 'manifest' | 'target' | 'device' | 'layout' | 'context' | 'draft' | 'pkg' | 'embeddings'>;

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

/** A tree with siblings at two depths: each node's logits are compared with its path's, run as a chain. */
const PROBE_TREE = [-1, 0, 0, 1, 2, 3];

/**
 * Whether this model's provider computes a tree (siblings masked from each other) as it computes each of
 * the tree's paths alone; always true on the CPU provider, the reference.
 */
export async function treesSound(model: Checkable, maxRows: number | null): Promise<boolean> {
  if (model.device.kind === 'cpu' || (maxRows !== null && maxRows < PROBE_TREE.length)) return true;
  const vocab = model.manifest.model.vocab_size;
  const context = probeTokens(vocab, 8);
  const tokens = probeTokens(vocab, context.length + PROBE_TREE.length).slice(context.length);
  const runner = await createTarget(model as LoadedModel, context.length + PROBE_TREE.length);
  try {
    await (await runner.forward(context, 1)).commit(context.map((_, i) => i));
    const tree = await runner.forward(tokens, tokens.length, buildShape(PROBE_TREE));
    const treeLogits = Float32Array.from(tree.logits);
    tree.release();
    for (let node = 1; node < PROBE_TREE.length; node++) {
      const path: number[] = [];
      for (let n = node; n !== -1; n = PROBE_TREE[n]!) path.unshift(n);
      const chain = await runner.forward(path.map((n) => tokens[n]!), path.length);
      const last = Float32Array.from(chain.logits.subarray((path.length - 1) * vocab, path.length * vocab));
      chain.release();
      if (!agree(last, treeLogits.subarray(node * vocab, (node + 1) * vocab))) return false;
    }
    return true;
  } finally {
    runner.dispose();
  }
}
