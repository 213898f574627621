/**
 * The decoding loop. One loop serves every mode; a mode only decides what the tree may hold, and the tree
 * policy (policy.ts) decides, step by step, which of those candidates are worth verifying:
 * - autoregressive: the root alone (one token per target pass);
 * - ngram: the root plus prompt-lookup runs;
 * - chimera: the root plus prompt-lookup runs plus the Chimera draft's chain and alternatives (the draft
 *   runs only on steps where the policy expects it to pay for itself).
 *
 * A DecodingSession owns the target's and the draft's KV caches and remembers which tokens they hold,
 * so the next request reuses the longest common prefix (the main latency lever for inline completion).
 */
import { AbortError, throwIfAborted } from './errors';
import type { CostModel } from './cost';
import { Emitter, type FinishReason } from './emitter';
import type { LoadedModel } from './model';
import { findContinuation, type NgramOptions } from './ngram';
import { HealingConstraint, healingLeft } from './healing';
import { TreePolicy, type TreeChoice, type TreeKind } from './policy';
import { DraftRunner, type CacheKind } from './runner';
import { createTarget, prefillChunkFor, type TargetModel } from './target';
import { GREEDY, PositionDraws, top2Margin, type SamplingParams } from './sampling';
import { accept, chooseFirst, gatherRows } from './step';
import { draftTreeFromPaths, ShapeCache, TokenTree } from './tree';
import { newStats, finishStats, type GenerationStats } from './stats';

export type DecodingMode = 'autoregressive' | 'chimera' | 'ngram';

export interface GenerateRequest {
  prompt: readonly number[];
  maxTokens: number;
  mode?: DecodingMode;
  sampling?: SamplingParams;
  seed?: number;
  /** Defaults to the manifest's stop tokens. */
  stopTokenIds?: readonly number[];
  stopStrings?: readonly string[];
  signal?: AbortSignal;
  /** Record the top-2 logit margin of each generated token (autoregressive mode only; for tests). */
  recordMargins?: boolean;
  /**
   * Text token healing took off the prompt's end (healing.ts): the answer is made to start with it, and it
   * is not part of the returned text.
   */
  healed?: string;
}

export interface GenerationResult {
  text: string;
  tokens: number[];
  finishReason: FinishReason;
  stats: GenerationStats;
  margins?: number[];
}

export interface SessionOptions {
  /** Most tree nodes per verification step, root included. */
  treeBudget?: number;
  /** `cost` (default): the measured-cost tree policy; `static`: the manifest's fixed tree, draft every step. */
  tree?: TreeKind;
  ngram?: NgramOptions;
  /** Tokens per prefill chunk; cancellation is checked between chunks. */
  prefillChunk?: number;
  /** Where the KV caches live; tests force 'device' to run the GPU code path on the CPU provider. */
  cache?: CacheKind;
  /** The cost model the tree policy weighs trees by (default: the model's measured one). */
  costs?: CostModel;
}

/** The cost policy verifies at most this many nodes (the profiled range); lookup runs may be this long. */
const MAX_TREE = 32;
/** Prompt lookup for the cost policy: long runs are offered, and the policy trims them to what pays. */
const POLICY_NGRAM: NgramOptions = { maxNgram: 4, minNgram: 2, maxTokens: 24 };
/** The static tree's lookup runs, as before the cost policy. */
const STATIC_NGRAM: NgramOptions = { maxNgram: 4, minNgram: 2, maxTokens: 10 };
/**
 * Inference blocks the thread; the loop lets pending I/O run (a cancellation, a newer request) at least this
 * often, rather than after every step, whose cost would show on every step.
 */
const YIELD_EVERY_MS = 4;

export class DecodingSession {
  private readonly shapes = new ShapeCache();
  private readonly policy: TreePolicy;
  private readonly costs: CostModel;
  private readonly treeBudget: number;
  /** Positions kept free after the prompt and the answer: one tree for the static policy, the root otherwise. */
  private readonly reserve: number;
  private readonly ngram: NgramOptions;
  private readonly prefillChunk: number;
  /** Tokens whose rows the target's cache holds, in order. */
  private cached: number[] = [];
  /**
   * Target hidden states of the cached positions the draft has not seen yet (it learns them at its next
   * call). Kept across requests, so the draft's context never falls behind the target's and prefix
   * reuse covers both caches, whatever mode the previous request used.
   */
  private readonly backlog = new HiddenBacklog();

  private constructor(
    readonly model: LoadedModel,
    private readonly target: TargetModel,
    private readonly draft: DraftRunner | null,
    options: SessionOptions,
  ) {
    const m = model.manifest;
    const kind = options.tree ?? 'cost';
    const draftTree = m.draft && m.tree ? draftTreeFromPaths(m.tree.paths, m.draft.n_steps, m.draft.top_k) : null;
    // A provider found wrong for large blocks (model.maxBlockRows) never gets one: losslessness first.
    const rowCap = model.maxBlockRows ?? Infinity;
    this.treeBudget = Math.min(rowCap, options.treeBudget ?? (kind === 'static' ? 16 : MAX_TREE));
    this.reserve = kind === 'static' ? this.treeBudget : 1;
    this.costs = options.costs ?? model.costs;
    this.policy = new TreePolicy({ tree: kind, maxNodes: this.treeBudget, draftTree, chains: !target.trees }, this.costs);
    this.ngram = options.ngram ?? (kind === 'static' ? STATIC_NGRAM : POLICY_NGRAM);
    this.prefillChunk = Math.min(rowCap, options.prefillChunk ?? prefillChunkFor(m.model.d_model));
  }

  static async create(model: LoadedModel, options: SessionOptions = {}): Promise<DecodingSession> {
    const capacity = model.context;
    const target = await createTarget(model, capacity, options.cache);
    const draft = model.draft ? await DraftRunner.open(model, capacity, options.cache) : null;
    return new DecodingSession(model, target, draft, options);
  }

  get hasDraft(): boolean {
    return this.draft !== null;
  }

  /** The tree policy's learned state (acceptance estimates, draft gains), for diagnostics and benchmarks. */
  get treePolicy(): TreePolicy {
    return this.policy;
  }

  /** Tokens currently held by the caches (for tests and diagnostics). */
  get cachedTokens(): readonly number[] {
    return this.cached;
  }

  dispose(): void {
    this.target.dispose();
    this.draft?.cache.dispose();
    this.cached = [];
  }

  /** Streams text deltas; the generator's return value is the complete result. */
  async *generate(req: GenerateRequest): AsyncGenerator<string, GenerationResult> {
    const mode = req.mode ?? 'chimera';
    if (mode === 'chimera' && !this.draft) throw new Error(`the model ${this.model.manifest.name} has no Chimera draft; use the ngram or autoregressive mode`);
    try {
      return yield* this.run(req, mode);
    } catch (err) {
      // Cancellation lands between steps, where the caches agree; any other failure may have left them
      // out of step with each other, so the next request starts clean.
      if (!(err instanceof AbortError)) await this.reset();
      throw err;
    }
  }

  /** Forgets the cached prefix, so the next request starts cold (benchmarks use this for fairness). */
  async clear(): Promise<void> {
    await this.reset();
  }

  private async reset(): Promise<void> {
    await this.target.truncate(0);
    await this.draft?.truncate(0);
    this.cached = [];
    this.backlog.clear();
  }

  private async *run(req: GenerateRequest, mode: DecodingMode): AsyncGenerator<string, GenerationResult> {
    const m = this.model.manifest;
    const sampling = req.sampling ?? GREEDY;
    const draws = new PositionDraws(req.seed ?? 0);
    const stats = newStats(mode);
    const capacity = this.target.capacity;
    const prompt = fitPrompt(req.prompt, req.maxTokens, capacity, this.reserve);
    stats.truncatedPrompt = prompt.length < req.prompt.length;
    const maxTokens = Math.max(0, Math.min(req.maxTokens, capacity - this.reserve - prompt.length));
    const healed = req.healed ?? '';
    const emitter = new Emitter(this.model.tokenizer, req.stopTokenIds ?? m.stop_token_ids, req.stopStrings ?? [], maxTokens, healed.length);
    const heal = healed ? new HealingConstraint(this.model.tokenizer) : null;
    const margins: number[] | undefined = req.recordMargins ? [] : undefined;
    const costs = this.costs;

    const prefill = await this.prefill(prompt, req.signal, stats).catch((err: unknown) => {
      if (err instanceof AbortError) stats.cancelled = true;
      throw err;
    });
    let root = heal ? heal.choose(prefill.logits, 0, this.target.vocab, sampling, draws, 0, healed) : chooseFirst(prefill.logits, this.target.vocab, sampling, draws);
    margins?.push(top2Margin(prefill.logits, 0, this.target.vocab));
    stats.firstTokenMs = performance.now() - stats.startedAt;
    const history = mode === 'autoregressive' ? null : [...prompt];
    history?.push(root);
    let delta = emitter.push([root]);
    if (delta) yield delta;
    let lastYield = performance.now();
    // The draft's context for the prompt is part of prompt processing, so its first call (which takes in
    // the prompt's last window) runs here, outside the per-step cost the policy weighs it by.
    let pending = mode === 'chimera' && this.draft && !emitter.done ? await this.draft.propose(this.backlog.take(this.target.width), this.trigram(root)) : null;

    while (!emitter.done) {
      if (performance.now() - lastYield >= YIELD_EVERY_MS) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        lastYield = performance.now();
      }
      if (req.signal?.aborted) {
        stats.cancelled = true;
        throw new AbortError(undefined, finishStats({ ...stats, generatedTokens: emitter.tokens.length }));
      }
      const stepStart = performance.now();
      const room = capacity - this.target.length;
      if (room < 1) {
        emitter.finish = 'length';
        break;
      }
      // While healing is spelling the removed text, steps verify the root alone (every mode alike).
      const left = heal ? healingLeft(healed, emitter.rawText) : '';
      const lookup = history ? findContinuation(history, this.ngram) : null;
      const plan = left ? null : this.policy.plan(mode, root, lookup, room);
      let proposal = null;
      if (!plan) proposal = null;
      else if (plan.runDraft && pending) proposal = pending;
      else if (plan.runDraft && this.draft) {
        const draftStart = performance.now();
        proposal = await this.draft.propose(this.backlog.take(this.target.width), this.trigram(root));
        costs.observeDraft(performance.now() - draftStart);
      }
      pending = null;
      const choice = plan ? this.policy.choose(plan, proposal) : rootOnly(root);
      const tree = choice.tree;
      const shape = this.shapes.get(tree.parents);
      const forwardStart = performance.now();
      const out = await this.target.forward(tree.tokens, tree.size, tree.size > 1 ? shape : undefined);
      costs.observeTarget(tree.size, performance.now() - forwardStart);
      const { path, bonus } = left ? { path: [0], bonus: heal!.choose(out.logits, 0, this.target.vocab, sampling, draws, emitter.tokens.length, left) } : accept(tree, shape, out.logits, this.target.vocab, sampling, draws, emitter.tokens.length);
      if (plan) this.policy.learn(choice, path);
      await out.commit(path);
      if (this.draft) this.backlog.push(gatherRows(out.hidden!, path, this.target.width));
      const verified = path.map((n) => tree.tokens[n]!);
      this.cached.push(...verified);
      const produced = [...verified.slice(1), bonus];
      if (margins) margins.push(top2Margin(out.logits, path[path.length - 1]! * this.target.vocab, this.target.vocab));
      history?.push(...produced);
      countStep(stats, tree.size, path.map((n) => tree.sources[n]!), proposal !== null);
      stats.decodeMs += performance.now() - stepStart;
      root = bonus;
      delta = emitter.push(produced);
      if (delta) yield delta;
    }
    const rest = emitter.flush();
    if (rest) yield rest;
    stats.generatedTokens = emitter.tokens.length;
    return { text: emitter.fullText, tokens: emitter.tokens, finishReason: emitter.finish ?? 'length', stats: finishStats(stats), margins };
  }

  /** The last two verified tokens and the root: the draft's first trigram. */
  private trigram(root: number): [number, number, number] {
    const eot = this.model.manifest.special_tokens.eot!.id;
    const n = this.cached.length;
    return [n >= 2 ? this.cached[n - 2]! : eot, n >= 1 ? this.cached[n - 1]! : eot, root];
  }

  /**
   * Runs the prompt after the longest prefix the caches already hold (at least its last token, whose
   * logits give the first new token), in chunks so cancellation is honoured between them.
   */
  private async prefill(prompt: readonly number[], signal: AbortSignal | undefined, stats: GenerationStats) {
    let common = 0;
    while (common < this.cached.length && common < prompt.length - 1 && this.cached[common] === prompt[common]) common++;
    await this.target.truncate(common);
    this.cached = this.cached.slice(0, common);
    if (this.draft) {
      // The draft knows positions [0, D); the backlog holds [D, cached). Cut both back to `common`.
      await this.draft.truncate(common);
      this.backlog.truncate(Math.max(0, common - this.draft.cache.length), this.target.width);
    }
    stats.promptTokens = prompt.length;
    stats.reusedTokens = common;
    let logits: Float32Array = new Float32Array(0);
    for (let start = common; start < prompt.length; start += this.prefillChunk) {
      throwIfAborted(signal);
      const chunk = prompt.slice(start, start + this.prefillChunk);
      const out = await this.target.forward(chunk, 1);
      await out.commit(chunk.map((_, i) => i));
      this.cached.push(...chunk);
      if (this.draft) this.backlog.push(out.hidden!);
      logits = out.logits;
    }
    stats.prefillMs = performance.now() - stats.startedAt;
    return { logits };
  }
}

function rootOnly(root: number): TreeChoice {
  return { tree: new TokenTree(root), keys: [[]], expected: 1 };
}

function countStep(stats: GenerationStats, treeSize: number, pathSources: readonly string[], drafted: boolean): void {
  stats.steps += 1;
  stats.drafted += treeSize - 1;
  stats.accepted += pathSources.length - 1;
  stats.treeNodes += treeSize;
  if (drafted) stats.draftCalls += 1;
  for (const source of pathSources.slice(1)) stats[source === 'ngram' ? 'acceptedFromLookup' : 'acceptedFromDraft'] += 1;
}

/** Keeps the end of an over-long prompt, leaving room for the answer and one tree. */
export function fitPrompt(prompt: readonly number[], maxTokens: number, capacity: number, treeBudget: number): readonly number[] {
  if (prompt.length === 0) throw new Error('the prompt is empty');
  const room = Math.max(Math.floor(capacity / 2), capacity - treeBudget - Math.max(0, maxTokens));
  return prompt.length > room ? prompt.slice(prompt.length - room) : prompt;
}

/** Hidden-state rows waiting for the draft, appended in position order. */
class HiddenBacklog {
  private parts: Float32Array[] = [];

  push(rows: Float32Array): void {
    if (rows.length > 0) this.parts.push(rows);
  }

  /** All rows as one array, leaving the backlog empty. */
  take(width: number): Float32Array {
    const out = this.concat();
    this.parts = [];
    if (out.length % width !== 0) throw new Error('hidden-state backlog is not a whole number of rows');
    return out;
  }

  /** Keeps the first `rows` rows. */
  truncate(rows: number, width: number): void {
    const all = this.concat();
    this.parts = rows > 0 ? [all.slice(0, rows * width)] : [];
  }

  clear(): void {
    this.parts = [];
  }

  private concat(): Float32Array {
    if (this.parts.length === 1) return this.parts[0]!;
    const out = new Float32Array(this.parts.reduce((n, p) => n + p.length, 0));
    let offset = 0;
    for (const p of this.parts) {
      out.set(p, offset);
      offset += p.length;
    }
    return out;
  }
}
