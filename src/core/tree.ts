/**
 * Verification trees as data (Medusa's approach).
 *
 * A tree *shape* is a parent array: node 0 is the root (the token the target already chose), and every
 * other node's parent comes before it. Everything a verification step needs from a shape (the
 * attention mask among nodes, depths for position ids, children for the acceptance walk and the node
 * path of every leaf) is computed once per shape and cached, since the same few shapes recur.
 *
 * A token tree is filled per step: the manifest's static draft tree (paths of candidate ranks per
 * draft step) plus any prompt-lookup chains, merged as a trie so equal prefixes share nodes.
 */

export interface TreeShape {
  readonly size: number;
  readonly parents: Int32Array;
  readonly depths: Int32Array;
  readonly children: readonly (readonly number[])[];
  /** Row-major [size * size] additive mask: 0 where node i may see node j (j is i or its ancestor), else -Infinity. */
  readonly mask: Float32Array;
  /** For every leaf, the node indices from the root down to it. */
  readonly leafPaths: readonly (readonly number[])[];
}

export function buildShape(parents: readonly number[]): TreeShape {
  const size = parents.length;
  if (size === 0 || parents[0] !== -1) throw new Error('a tree shape starts with its root (parent -1)');
  const depths = new Int32Array(size);
  const children: number[][] = Array.from({ length: size }, () => []);
  const mask = new Float32Array(size * size).fill(-Infinity);
  for (let i = 0; i < size; i++) {
    const p = parents[i]!;
    if (i > 0) {
      if (p < 0 || p >= i) throw new Error(`tree node ${i} has parent ${p}; parents must come first`);
      depths[i] = depths[p]! + 1;
      children[p]!.push(i);
    }
    for (let j = i; j !== -1; j = parents[j]!) mask[i * size + j] = 0;
  }
  const leafPaths: number[][] = [];
  for (let i = 0; i < size; i++) {
    if (children[i]!.length > 0) continue;
    const path: number[] = [];
    for (let j = i; j !== -1; j = parents[j]!) path.unshift(j);
    leafPaths.push(path);
  }
  return { size, parents: Int32Array.from(parents), depths, children, mask, leafPaths };
}

/** Whether every node's parent is the one before it (what a device without sound trees can verify). */
export function isChain(tree: Pick<TreeShape, 'parents'>): boolean {
  return tree.parents.every((p, i) => p === i - 1);
}

/** Caches shapes by their parent arrays; a handful of shapes recur across steps. */
export class ShapeCache {
  private readonly shapes = new Map<string, TreeShape>();

  constructor(private readonly limit = 256) {}

  get(parents: readonly number[]): TreeShape {
    const key = parents.join(',');
    let shape = this.shapes.get(key);
    if (shape === undefined) {
      shape = buildShape(parents);
      if (this.shapes.size >= this.limit) this.shapes.delete(this.shapes.keys().next().value as string);
      this.shapes.set(key, shape);
    }
    return shape;
  }
}

/** The static draft tree from the manifest: rank paths, validated and ordered parents-first. */
export interface DraftTree {
  /** For each non-root node (in order), the draft step (0-based) and candidate rank it takes. */
  readonly slots: readonly { step: number; rank: number; parent: number }[];
}

export function draftTreeFromPaths(paths: readonly (readonly number[])[], steps: number, topK: number): DraftTree {
  const sorted = [...paths].sort((a, b) => a.length - b.length || compareLex(a, b));
  const index = new Map<string, number>([['', 0]]);
  const slots: { step: number; rank: number; parent: number }[] = [];
  for (const path of sorted) {
    if (path.length === 0 || path.length > steps) throw new Error(`tree path [${path}] must have 1..${steps} ranks`);
    if (path.some((r) => r < 0 || r >= topK)) throw new Error(`tree path [${path}] uses a rank outside 0..${topK - 1}`);
    const parent = index.get(path.slice(0, -1).join(','));
    if (parent === undefined) throw new Error(`tree path [${path}] has no parent path [${path.slice(0, -1)}]`);
    const key = path.join(',');
    if (index.has(key)) continue;
    slots.push({ step: path.length - 1, rank: path[path.length - 1]!, parent });
    index.set(key, slots.length);
  }
  return { slots };
}

function compareLex(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/** A token trie built for one verification step. Node 0 is the root. */
export class TokenTree {
  readonly tokens: number[];
  readonly parents: number[];
  /** Where each node came from, for statistics: 'root', 'draft' or 'ngram'. */
  readonly sources: ('root' | 'draft' | 'ngram')[];

  constructor(root: number) {
    this.tokens = [root];
    this.parents = [-1];
    this.sources = ['root'];
  }

  get size(): number {
    return this.tokens.length;
  }

  /** The child of `parent` holding `token`, or -1. */
  child(parent: number, token: number): number {
    for (let i = parent + 1; i < this.tokens.length; i++) if (this.parents[i] === parent && this.tokens[i] === token) return i;
    return -1;
  }

  add(parent: number, token: number, source: 'draft' | 'ngram'): number {
    const existing = this.child(parent, token);
    if (existing !== -1) return existing;
    this.tokens.push(token);
    this.parents.push(parent);
    this.sources.push(source);
    return this.tokens.length - 1;
  }

  /** Fills the static draft tree with one step's candidates ([steps][topK] token ids). */
  addDraft(tree: DraftTree, candidates: ArrayLike<number>, topK: number, budget: number): void {
    const nodeOf = [0];
    for (const slot of tree.slots) {
      if (this.size >= budget) break;
      const parent = nodeOf[slot.parent];
      if (parent === undefined) break;
      nodeOf.push(this.add(parent, candidates[slot.step * topK + slot.rank]!, 'draft'));
    }
  }

  /** Merges a chain of tokens that continues the root. */
  addChain(chain: readonly number[], budget: number): void {
    let node = 0;
    for (const token of chain) {
      const next = this.child(node, token);
      if (next === -1 && this.size >= budget) return;
      node = next === -1 ? this.add(node, token, 'ngram') : next;
    }
  }
}
