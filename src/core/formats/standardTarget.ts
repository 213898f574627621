/**
 * The target adapter for standard ONNX exports (formats/standard.ts): the cache goes in head-major
 * ([1, Hkv, P, Dh], as those graphs take it) and the whole cache comes back as `present`, which becomes the
 * next step's past. The graph has only a causal mask, so a step verifies a chain (prompt lookup runs),
 * never a branching tree; keeping fewer rows than a step computed (a rejected run) or rolling back to a
 * shorter prefix copies each head's rows up to the new length.
 */
import type { Tensor } from 'onnxruntime-node';
import { int64 } from '../runner';
import { loadOrt, type Session } from '../session';
import type { TargetModel, TargetStep } from '../target';
import { isChain, type TreeShape } from '../tree';
import type { StandardLayout } from './standard';

interface Dims {
  vocab: number;
  width: number;
  layers: number;
  kvHeads: number;
  headDim: number;
}

export class StandardTarget implements TargetModel {
  readonly trees = false;
  readonly vocab: number;
  readonly width: number;
  private past: Float32Array[];
  private used = 0;
  private readonly names: { past: string[]; present: string[] };

  constructor(
    private readonly session: Session,
    private readonly layout: StandardLayout,
    private readonly dims: Dims,
    readonly capacity: number,
  ) {
    this.vocab = dims.vocab;
    this.width = dims.width;
    const name = (template: string, i: number) => template.replace('%d', String(i));
    const layers = Array.from({ length: dims.layers }, (_, i) => i);
    this.names = {
      past: layers.flatMap((i) => [name(layout.pastKey, i), name(layout.pastValue, i)]),
      present: layers.flatMap((i) => [name(layout.presentKey, i), name(layout.presentValue, i)]),
    };
    this.past = this.names.past.map(() => new Float32Array(0));
  }

  get length(): number {
    return this.used;
  }

  async forward(tokens: readonly number[], keep: number, tree?: TreeShape): Promise<TargetStep> {
    if (tree && !isChain(tree)) throw new Error('this model verifies chains only (its graph has no tree mask)');
    const ort = loadOrt();
    const t = tokens.length;
    const p = this.used;
    const feeds: Record<string, Tensor> = {
      input_ids: new ort.Tensor('int64', int64(tokens), [1, t]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(p + t).fill(1n), [1, p + t]),
    };
    if (this.layout.positionIds) feeds.position_ids = new ort.Tensor('int64', int64(Array.from({ length: t }, (_, i) => p + i)), [1, t]);
    const shape = [1, this.dims.kvHeads, p, this.dims.headDim];
    this.names.past.forEach((n, i) => (feeds[n] = new ort.Tensor('float32', this.past[i]!, shape)));
    const outputs = await this.session.run(feeds);
    const logits = outputs.logits!.data as Float32Array;
    return {
      logits: logits.subarray((t - keep) * this.vocab),
      hidden: null,
      commit: async (rows) => {
        if (rows.some((r, i) => r !== i)) throw new Error('this model keeps only a prefix of a verified chain');
        this.past = this.names.present.map((n) => outputs[n]!.data as Float32Array);
        this.used = p + t;
        if (rows.length < t) this.cut(p + rows.length);
      },
      release: () => undefined,
    };
  }

  async truncate(length: number): Promise<void> {
    if (length < this.used) this.cut(Math.max(0, length));
  }

  dispose(): void {
    this.past = this.past.map(() => new Float32Array(0));
    this.used = 0;
  }

  /** Keeps the first `length` positions of every head. */
  private cut(length: number): void {
    const { kvHeads, headDim } = this.dims;
    const from = this.used * headDim;
    const to = length * headDim;
    this.past = this.past.map((old) => {
      const next = new Float32Array(kvHeads * to);
      for (let h = 0; h < kvHeads; h++) next.set(old.subarray(h * from, h * from + to), h * to);
      return next;
    });
    this.used = length;
  }
}
