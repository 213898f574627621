/**
 * Measures a loaded model's cost profile (cost.ts): the target's c(T) for every profiled T on a cache of a
 * few hundred positions, and one draft call, on the device and threads the model was loaded with.
 * Profiles are cached by a key naming everything they depend on, so a model is measured once per machine
 * set-up; a fresh measurement takes a few hundred milliseconds for small models.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { CostModel, PROFILE_SIZES, type CostProfile, type CostStore } from './cost';
import type { LoadedModel } from './model';
import { DraftRunner } from './runner';
import { createTarget, prefillChunkFor, type TargetModel } from './target';
import { loadOrt, type Logger } from './session';
import { buildShape } from './tree';

const PROFILE_VERSION = 3;
const REPEATS = 5;
/** Rounds of the interleaved measurement (each runs every profiled size once). */
const ROUNDS = 9;

type Measurable = Omit<LoadedModel, 'costs' | 'dispose'>;

/** What a profile depends on: the model's files, the device, the threads and the runtime. */
export function profileKey(model: Measurable, threads: number): string {
  const files = model.manifest.files;
  const versions = loadOrt().env.versions as { node?: string; common?: string };
  const ort = versions.node ?? versions.common ?? 'unknown';
  return [`v${PROFILE_VERSION}`, files.target.sha256, files.draft?.sha256 ?? 'no-draft', model.device.kind, `draft on ${model.draftDevice}`, `threads ${threads}`, `ort ${ort}`, cpus()[0]?.model ?? 'cpu'].join('|');
}

/** The model's cost model: from the store when it has this key, else measured now (and stored). */
export async function loadCosts(model: Measurable, threads: number, store: CostStore | null, log: Logger): Promise<CostModel> {
  const key = profileKey(model, threads);
  const cached = await store?.load(key).catch(() => null);
  if (cached) return new CostModel(cached);
  const started = performance.now();
  const profile = await measureProfile(model, key);
  log('info', `cost profile measured in ${Math.round(performance.now() - started)} ms: c(T) ${profile.targetMs.map((v) => v.toFixed(2)).join(' / ')} ms for T = ${PROFILE_SIZES.join(' / ')}${profile.draftMs !== undefined ? `, draft ${profile.draftMs.toFixed(2)} ms` : ''}`);
  await store?.save(profile).catch((err: unknown) => log('warn', `cannot save the cost profile: ${(err as Error).message}`));
  return new CostModel(profile);
}

/** Cached positions the profile measures after: a few hundred, within the model's context. */
function profileContext(model: Measurable): number {
  return Math.max(16, Math.min(512, Math.floor(model.context / 2)));
}

/** Deterministic token ids spread over the vocabulary (any ids cost the same; these never repeat soon). */
function profileTokens(model: Measurable, count: number): number[] {
  const vocab = model.manifest.model.vocab_size;
  return Array.from({ length: count }, (_, i) => 16 + ((i * 7919) % Math.max(1, vocab - 16)));
}

export async function measureProfile(model: Measurable, key: string): Promise<CostProfile> {
  const context = profileContext(model);
  const capacity = context + PROFILE_SIZES[PROFILE_SIZES.length - 1];
  const runner = await createTarget(model as LoadedModel, capacity);
  try {
    const tokens = profileTokens(model, capacity);
    const hidden = await fill(runner, tokens.slice(0, context));
    const draft = model.draft && hidden ? await openDraft(model, hidden, context) : null;
    try {
      const { targetMs, draftMs } = await measureInterleaved(runner, tokens, context, draft);
      return { targetMs, draftMs, contextTokens: context, key, measuredAt: new Date().toISOString() };
    } finally {
      draft?.runner.cache.dispose();
    }
  } finally {
    runner.dispose();
  }
}

/**
 * c(1) alone, on whatever session `model` holds: one token verified after the profile's cached positions.
 * The GPU diagnostics compare it across execution providers.
 */
export async function measureC1(model: Measurable): Promise<number> {
  const context = profileContext(model);
  const runner = await createTarget(model as LoadedModel, context + 1);
  try {
    const tokens = profileTokens(model, context + 1);
    await fill(runner, tokens.slice(0, context));
    return await median(async () => (await runner.forward([tokens[context]!], 1)).release());
  } finally {
    runner.dispose();
  }
}

/**
 * Runs the prompt into the cache, in the engine's prompt chunks (so measuring a profile needs no more
 * memory than a prompt does); returns the hidden states (the draft's context), when the graph has them.
 */
async function fill(runner: TargetModel, tokens: readonly number[]): Promise<Float32Array | null> {
  const chunkTokens = prefillChunkFor(runner.width);
  const parts: Float32Array[] = [];
  for (let start = 0; start < tokens.length; start += chunkTokens) {
    const chunk = tokens.slice(start, start + chunkTokens);
    const out = await runner.forward(chunk, 1);
    if (out.hidden) parts.push(Float32Array.from(out.hidden));
    await out.commit(chunk.map((_, i) => i));
  }
  if (parts.length === 0) return null;
  const all = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return all;
}

interface ProfileDraft {
  runner: DraftRunner;
  /** One typical call: the two positions verified since the last one, then back to where it was. */
  call(): Promise<void>;
}

/** The draft with the profile's context already taken in, ready for typical calls. */
async function openDraft(model: Measurable, hidden: Float32Array, context: number): Promise<ProfileDraft> {
  const width = model.manifest.model.d_model;
  const runner = await DraftRunner.open(model as LoadedModel, context + 8);
  await runner.propose(hidden.subarray(0, (context - 2) * width), [1, 2, 3]);
  const recent = hidden.subarray((context - 2) * width, context * width);
  return {
    runner,
    async call() {
      await runner.propose(recent, [1, 2, 3]);
      await runner.truncate(context - 2);
    },
  };
}

/**
 * c(T) for every profiled size and the draft's cost, measured the way the decoder uses them: sizes in
 * rotation rather than one size repeated, and a draft call after each verification. Measured back to
 * back, a repeated call finds its caches warm and its shapes planned, and read a third cheaper than the
 * same call inside the decoding loop; the policy then overrated large trees and the draft.
 */
async function measureInterleaved(runner: TargetModel, tokens: readonly number[], context: number, draft: ProfileDraft | null): Promise<{ targetMs: number[]; draftMs?: number }> {
  const blocks = PROFILE_SIZES.map((size) => {
    const block = tokens.slice(context, context + size);
    return { block, shape: size > 1 ? buildShape(block.map((_, i) => i - 1)) : undefined };
  });
  const times = PROFILE_SIZES.map(() => [] as number[]);
  const draftTimes: number[] = [];
  for (let round = -1; round < ROUNDS; round++) {
    // Round -1 warms up (first runs allocate and pack); each round starts at another size.
    for (let k = 0; k < PROFILE_SIZES.length; k++) {
      const i = (k + Math.max(0, round)) % PROFILE_SIZES.length;
      const t0 = performance.now();
      (await runner.forward(blocks[i]!.block, PROFILE_SIZES[i]!, blocks[i]!.shape)).release();
      const t1 = performance.now();
      await draft?.call();
      if (round < 0) continue;
      times[i]!.push(t1 - t0);
      if (draft) draftTimes.push(performance.now() - t1);
    }
  }
  return { targetMs: times.map(medianOf), draftMs: draft ? medianOf(draftTimes) : undefined };
}

function medianOf(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function median(run: () => Promise<void>): Promise<number> {
  await run(); // warm-up: first runs allocate and pack
  const times: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

/** Profiles as JSON files, one per key, in the engine's cache folder. */
export class FileCostStore implements CostStore {
  constructor(private readonly dir: string) {}

  private file(key: string): string {
    return join(this.dir, `cost-${createHash('sha256').update(key).digest('hex').slice(0, 24)}.json`);
  }

  async load(key: string): Promise<CostProfile | null> {
    try {
      const profile = JSON.parse(await readFile(this.file(key), 'utf8')) as CostProfile;
      return profile.key === key && Array.isArray(profile.targetMs) && profile.targetMs.length === PROFILE_SIZES.length ? profile : null;
    } catch {
      return null;
    }
  }

  async save(profile: CostProfile): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const file = this.file(profile.key);
    await writeFile(`${file}.tmp`, JSON.stringify(profile, null, 1));
    await rename(`${file}.tmp`, file); // readers never see a half-written profile
  }
}

