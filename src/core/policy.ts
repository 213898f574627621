/**
 * The tree policy: which tokens one verification step puts up, and whether the draft runs for it.
 *
 * Every candidate (a prompt-lookup run, the draft's chain and its alternatives) gets an acceptance estimate
 * (acceptance.ts); a node's *survival* is the product of the estimates down its path, and the expected
 * tokens of a tree are 1 (the target's own next token) plus the sum of its nodes' survivals. The policy keeps
 * the node set that maximises expected tokens per millisecond, (1 + Σ survival) / (c(T) + draft cost), with
 * c(T) from the measured cost model (cost.ts). Taking nodes by decreasing survival always yields a tree
 * (a child never survives more than its parent), so the best tree of each size is a prefix of one sorted
 * list (EAGLE-2's rule; Sequoia's and vLLM's cost-aware size choice).
 *
 * The draft runs only where it pays: before a step the policy knows what lookup alone would give, and it
 * keeps, per level of lookup confidence, a running estimate of how much adding the draft improved the
 * expected rate on the steps where it ran. Levels where it does not pay skip the draft, with an occasional
 * exploratory call so the estimate can recover.
 *
 * Modes only restrict the candidates: autoregressive has none, ngram has lookup runs, chimera has both.
 * The `static` tree kind reproduces the manifest's fixed tree with the draft on every step (the fallback,
 * and the comparison the benchmark makes).
 */
import { AcceptanceStats, type AcceptKey } from './acceptance';
import type { CostModel } from './cost';
import type { Continuation } from './ngram';
import type { DecodingMode } from './decoder';
import type { DraftProposal } from './runner';
import { proposeTree } from './step';
import { TokenTree, type DraftTree } from './tree';

export type TreeKind = 'cost' | 'static';

interface Candidate {
  token: number;
  parent: number;
  p: number;
  keys: AcceptKey[];
  source: 'draft' | 'ngram';
}

interface Selection {
  /** Candidate indices in tree order (parents first), root excluded. */
  nodes: number[];
  expected: number;
  value: number;
}

export interface StepPlan {
  mode: DecodingMode;
  root: number;
  runDraft: boolean;
  lookup: Continuation | null;
  candidates: Candidate[];
  lookupOnly: Selection;
  level: number;
  budget: number;
}

export interface TreeChoice {
  tree: TokenTree;
  /** Acceptance keys of each tree node (empty for the root), for learning after verification. */
  keys: AcceptKey[][];
  /** Expected tokens this tree yields (accepted drafts plus the target's own token). */
  expected: number;
}

/** Lookup-confidence levels (expected accepted lookup tokens) the draft decision is kept for. */
const LEVELS = [0.25, 1, 2.5];
/** The draft is called now and then where it did not pay, so a changed situation is noticed. */
const EXPLORE_EVERY = 16;
const GAIN_RATE = 0.1;

export interface PolicyOptions {
  tree: TreeKind;
  /** Most nodes a tree may have, root included. */
  maxNodes: number;
  draftTree?: DraftTree | null;
  /** Verify chains only (no siblings): the device was found to compute trees wrongly (LoadedModel.treesSound). */
  chains?: boolean;
}

export class TreePolicy {
  readonly stats = new AcceptanceStats();
  /** Running ratio: expected rate with the draft / without it, per lookup level. Optimistic at first. */
  private readonly gain = LEVELS.map(() => 1.25).concat(1.25);
  private readonly skipped = LEVELS.map(() => 0).concat(0);

  constructor(
    private readonly options: PolicyOptions,
    private readonly cost: CostModel,
  ) {}

  /** What lookup alone offers, and whether to run the draft this step (`room`: positions left in the cache). */
  plan(mode: DecodingMode, root: number, lookup: Continuation | null, room: number): StepPlan {
    const budget = Math.max(1, Math.min(this.options.maxNodes, room));
    const candidates: Candidate[] = [{ token: root, parent: -1, p: 1, keys: [], source: 'ngram' }];
    if (mode !== 'autoregressive' && lookup) this.addLookup(candidates, lookup);
    const lookupOnly = select(candidates, budget, this.cost, 0, this.options.chains);
    const level = LEVELS.findIndex((l) => lookupOnly.expected - 1 < l);
    const plan = { mode, root, runDraft: false, lookup, candidates, lookupOnly, level: level === -1 ? LEVELS.length : level, budget };
    if (mode === 'chimera' && budget > 1) plan.runDraft = this.options.tree === 'static' || this.draftPays(plan.level);
    return plan;
  }

  /** The tree to verify, from the plan and the draft's proposal when it ran. */
  choose(plan: StepPlan, proposal: DraftProposal | null): TreeChoice {
    if (this.options.tree === 'static') return this.staticTree(plan, proposal);
    if (!proposal) return toChoice(plan.candidates, plan.lookupOnly);
    const candidates = plan.candidates.map((c) => ({ ...c, keys: [...c.keys] }));
    this.addDraft(candidates, proposal);
    const withDraft = select(candidates, plan.budget, this.cost, this.cost.draft, this.options.chains);
    const ratio = withDraft.value / Math.max(1e-9, plan.lookupOnly.value);
    this.gain[plan.level] = this.gain[plan.level]! + GAIN_RATE * (ratio - this.gain[plan.level]!);
    return toChoice(candidates, withDraft);
  }

  /** Records, for every node whose parent was accepted, whether it was accepted too. */
  learn(choice: TreeChoice, path: readonly number[]): void {
    const onPath = new Set(path);
    const { tree } = choice;
    for (let node = 1; node < tree.size; node++) {
      if (!onPath.has(tree.parents[node]!)) continue;
      for (const key of choice.keys[node]!) this.stats.record(key, onPath.has(node));
    }
  }

  /** Current draft-gain estimates per lookup level (diagnostics). */
  draftGains(): number[] {
    return this.gain.map((g) => Math.round(g * 1000) / 1000);
  }

  private draftPays(level: number): boolean {
    if (this.gain[level]! >= 1) return true;
    this.skipped[level] = this.skipped[level]! + 1;
    return this.skipped[level]! % EXPLORE_EVERY === 0;
  }

  private addLookup(candidates: Candidate[], lookup: Continuation): void {
    let parent = 0;
    lookup.tokens.forEach((token, index) => {
      parent = addCandidate(candidates, parent, token, { kind: 'lookup', matched: lookup.matched, index }, 'ngram', this.stats);
    });
  }

  /**
   * The draft's chain (first choices, each drafted after the previous), its alternatives at every depth,
   * and each alternative extended by the next step's first choice (drafted after a different token, so
   * estimated separately).
   */
  private addDraft(candidates: Candidate[], proposal: DraftProposal): void {
    const { steps, topK, tokens, logprobs } = proposal;
    let chainParent = 0;
    for (let step = 0; step < steps; step++) {
      let next = chainParent;
      for (let rank = 0; rank < topK; rank++) {
        const i = step * topK + rank;
        const node = addCandidate(candidates, chainParent, tokens[i]!, { kind: 'draft', probability: Math.exp(logprobs[i]!), onChain: true }, 'draft', this.stats);
        if (rank === 0) next = node;
        else if (step + 1 < steps) {
          const j = (step + 1) * topK;
          addCandidate(candidates, node, tokens[j]!, { kind: 'draft', probability: Math.exp(logprobs[j]!), onChain: false }, 'draft', this.stats);
        }
      }
      chainParent = next;
    }
  }

  private staticTree(plan: StepPlan, proposal: DraftProposal | null): TreeChoice {
    const lookup = plan.mode === 'autoregressive' ? null : plan.lookup;
    let tree = proposeTree({ root: plan.root, draft: proposal, draftTree: this.options.draftTree ?? null, lookup, budget: plan.budget });
    if (this.options.chains) tree = firstChain(tree);
    return { tree, keys: tree.tokens.map(() => []), expected: 0 };
  }
}

function addCandidate(candidates: Candidate[], parent: number, token: number, key: AcceptKey, source: Candidate['source'], stats: AcceptanceStats): number {
  const p = stats.estimate(key);
  for (let i = parent + 1; i < candidates.length; i++) {
    const c = candidates[i]!;
    if (c.parent !== parent || c.token !== token) continue;
    // Two sources proposing the same token are two pieces of evidence for it.
    c.p = 1 - (1 - c.p) * (1 - p);
    c.keys.push(key);
    return i;
  }
  candidates.push({ token, parent, p, keys: [key], source });
  return candidates.length - 1;
}

/**
 * The best tree: nodes by decreasing survival, cut where expected tokens per millisecond peak. With
 * `chains`, the nodes are those of the likeliest path (the most surviving child at every depth), cut the
 * same way.
 */
function select(candidates: readonly Candidate[], budget: number, cost: CostModel, draftMs: number, chains = false): Selection {
  const survival = survivals(candidates);
  const order = chains ? likeliestPath(candidates, survival) : candidates.map((_, i) => i).slice(1).sort((a, b) => survival[b]! - survival[a]! || a - b);
  let best: Selection = { nodes: [], expected: 1, value: 1 / (cost.target(1) + draftMs) };
  let expected = 1;
  for (let n = 1; n <= Math.min(budget - 1, order.length); n++) {
    expected += survival[order[n - 1]!]!;
    const value = expected / (cost.target(n + 1) + draftMs);
    if (value > best.value) best = { nodes: order.slice(0, n), expected, value };
  }
  best.nodes.sort((a, b) => a - b); // candidate order keeps parents before children
  return best;
}

/** Candidate indices from the root down, each the most surviving child of the one before. */
function likeliestPath(candidates: readonly Candidate[], survival: readonly number[]): number[] {
  const path: number[] = [];
  for (let at = 0; ; ) {
    let next = -1;
    for (let i = at + 1; i < candidates.length; i++) if (candidates[i]!.parent === at && (next === -1 || survival[i]! > survival[next]!)) next = i;
    if (next === -1) return path;
    path.push(next);
    at = next;
  }
}

/** The tree's first path (every node's first child), for a device that verifies chains only. */
function firstChain(tree: TokenTree): TokenTree {
  const chain = new TokenTree(tree.tokens[0]!);
  for (let at = 0, node = 0; ; ) {
    const child = tree.parents.indexOf(at, at + 1);
    if (child === -1) return chain;
    // Only the root has the source 'root', and a child is never the root.
    node = chain.add(node, tree.tokens[child]!, tree.sources[child] as 'draft' | 'ngram');
    at = child;
  }
}

/** Survival of each candidate; siblings' estimates are scaled down when together they exceed 1. */
function survivals(candidates: readonly Candidate[]): number[] {
  const siblingsSum = new Map<number, number>();
  for (const c of candidates) if (c.parent >= 0) siblingsSum.set(c.parent, (siblingsSum.get(c.parent) ?? 0) + c.p);
  const out = new Array<number>(candidates.length).fill(1);
  for (let i = 1; i < candidates.length; i++) {
    const c = candidates[i]!;
    const scale = Math.max(1, siblingsSum.get(c.parent)! / 0.99);
    out[i] = out[c.parent]! * (c.p / scale);
  }
  return out;
}

function toChoice(candidates: readonly Candidate[], selection: Selection): TreeChoice {
  const tree = new TokenTree(candidates[0]!.token);
  const keys: AcceptKey[][] = [[]];
  const nodeOf = new Map<number, number>([[0, 0]]);
  for (const i of selection.nodes) {
    const c = candidates[i]!;
    nodeOf.set(i, tree.add(nodeOf.get(c.parent)!, c.token, c.source));
    keys.push(c.keys);
  }
  return { tree, keys, expected: selection.expected };
}
