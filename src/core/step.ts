/**
 * The pure parts of one speculative step: propose (build the token tree) and accept (walk it against
 * the target's logits). The model calls between them live in runner.ts; the loop in decoder.ts.
 */
import type { Continuation } from './ngram';
import type { DraftProposal } from './runner';
import { argmax, distribution, isGreedy, sampleAt, type PositionDraws, type SamplingParams } from './sampling';
import { TokenTree, type DraftTree, type TreeShape } from './tree';

export interface ProposeInput {
  root: number;
  draft: DraftProposal | null;
  draftTree: DraftTree | null;
  /** The prompt-lookup continuation of the tokens so far (root included), if any. */
  lookup: Continuation | null;
  /** Most nodes a tree may have, root included. */
  budget: number;
}

export function proposeTree(input: ProposeInput): TokenTree {
  const tree = new TokenTree(input.root);
  if (input.draft && input.draftTree) tree.addDraft(input.draftTree, input.draft.tokens, input.draft.topK, input.budget);
  if (input.lookup && input.lookup.tokens.length > 0) tree.addChain(input.lookup.tokens, input.budget);
  return tree;
}

export interface Acceptance {
  /** Tree nodes whose tokens are now verified, root first (their cache rows are kept). */
  path: number[];
  /** The target's own next token after the path: emitted now, processed next step. */
  bonus: number;
}

/** Greedy: follow the child equal to the target's argmax as long as one exists. */
export function acceptGreedy(tree: TokenTree, shape: TreeShape, logits: Float32Array, vocab: number): Acceptance {
  const path = [0];
  for (;;) {
    const node = path[path.length - 1]!;
    const choice = argmax(logits, node * vocab, vocab);
    const next = shape.children[node]!.find((c) => tree.tokens[c] === choice);
    if (next === undefined) return { path, bonus: choice };
    path.push(next);
  }
}

/**
 * Sampling: at each node the target's token is drawn from its own distribution, with the draw of that
 * output position (`first` is the position after the root), and the walk follows the child holding it.
 * The children are deterministic proposals (one-hot q), for which this is the lossless rule: each token
 * is distributed exactly as the target's p given the accepted prefix. Because the draw depends only on the
 * position, the text for a seed does not depend on what was proposed.
 */
export function acceptSampled(tree: TokenTree, shape: TreeShape, logits: Float32Array, vocab: number, params: SamplingParams, draws: PositionDraws, first: number): Acceptance {
  const path = [0];
  for (;;) {
    const node = path[path.length - 1]!;
    const token = sampleAt(distribution(logits, node * vocab, vocab, params), draws.at(first + path.length - 1));
    const next = shape.children[node]!.find((c) => tree.tokens[c] === token);
    if (next === undefined) return { path, bonus: token };
    path.push(next);
  }
}

/** `first`: the output position of the token after the root (sampling only). */
export function accept(tree: TokenTree, shape: TreeShape, logits: Float32Array, vocab: number, params: SamplingParams, draws: PositionDraws, first: number): Acceptance {
  return isGreedy(params) ? acceptGreedy(tree, shape, logits, vocab) : acceptSampled(tree, shape, logits, vocab, params, draws, first);
}

/** Rows [rows * width] gathered from a [*, width] buffer. */
export function gatherRows(buffer: Float32Array, rows: readonly number[], width: number): Float32Array {
  const out = new Float32Array(rows.length * width);
  rows.forEach((r, i) => out.set(buffer.subarray(r * width, (r + 1) * width), i * width));
  return out;
}

/** Chooses the first token (output position 0) from a prefill's last logits row. */
export function chooseFirst(logits: Float32Array, vocab: number, params: SamplingParams, draws: PositionDraws): number {
  if (isGreedy(params)) return argmax(logits, 0, vocab);
  return sampleAt(distribution(logits, 0, vocab, params), draws.at(0));
}
