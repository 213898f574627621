/**
 * The measured cost model behind the tree policy: what one verification of T tokens costs, c(T), and what
 * one draft call costs, on this model, device and thread count.
 *
 * How c(T) grows with T depends on everything at once (a small model on a CPU is bound by per-operator
 * overhead, a large one by weight bytes, a GPU by neither until T is large), so it is measured, not
 * assumed (Sequoia, vLLM's adaptive verification). A profile is measured at load (a few hundred
 * milliseconds), cached per model, device, threads and onnxruntime version, and then corrected online from
 * the step times the decoder observes: the profile runs the target alone, while real steps share the
 * caches with the draft and run at longer contexts.
 */

/** Verification sizes a profile measures; c(T) between them is interpolated linearly. */
export const PROFILE_SIZES = [1, 2, 4, 8, 16, 32] as const;

export interface CostProfile {
  /** c(T) in milliseconds for each T of PROFILE_SIZES. */
  targetMs: number[];
  /** One draft call, in milliseconds (absent for models without a draft). */
  draftMs?: number;
  /** Cached positions the profile ran at. */
  contextTokens: number;
  /** What the profile is valid for: model files, device, threads, onnxruntime. */
  key: string;
  measuredAt: string;
}

/** Persistence of profiles between engine starts (a file per key in the engine's storage). */
export interface CostStore {
  load(key: string): Promise<CostProfile | null>;
  save(profile: CostProfile): Promise<void>;
}

/** Online corrections move slowly: one noisy step barely moves them, a persistent shift does. */
const LEARNING_RATE = 0.05;
/** Of an observation's error, the share a size's own correction takes (the common scale takes it all). */
const SIZE_SHARE = 0.5;
/**
 * A size's own correction stays within this factor of the profile: the measured shape of c(T) is trusted,
 * and a size observed alone (the root, while nothing else is proposed) cannot make every other size look
 * so dear that the policy never tries it again.
 */
const MAX_SHAPE_CHANGE = 1.2;

export class CostModel {
  /**
   * How much slower or faster than profiled the machine runs now, for all sizes alike; and, on top of it, a
   * correction per PROFILE_SIZES slot. A step moves the common scale, so that learning from the sizes the
   * policy uses never makes the sizes it does not use look cheaper or dearer than profiled (which would
   * keep the policy from ever trying them).
   */
  private scale = 1;
  private readonly correction: number[];
  private draftEstimate: number;

  /**
   * `frozen`: keep the profile as given and learn nothing from observed steps (a profile from elsewhere,
   * replayed to see which trees the policy would choose under it).
   */
  constructor(
    readonly profile: CostProfile,
    private readonly frozen = false,
  ) {
    if (profile.targetMs.length !== PROFILE_SIZES.length || profile.targetMs.some((v) => !(v > 0))) {
      throw new Error('a cost profile needs a positive time for every profiled size');
    }
    this.correction = PROFILE_SIZES.map(() => 1);
    this.draftEstimate = profile.draftMs ?? 0;
  }

  /** Milliseconds to verify `size` tokens in one target pass (size ≥ 1). */
  target(size: number): number {
    return this.scale * interpolate(size, (i) => this.profile.targetMs[i]! * this.correction[i]!);
  }

  /** Milliseconds of one draft call. */
  get draft(): number {
    return this.draftEstimate;
  }

  /** Learns from one observed target pass of `size` tokens. */
  observeTarget(size: number, ms: number): void {
    if (this.frozen || !(ms > 0) || !Number.isFinite(ms)) return;
    const ratio = Math.min(4, Math.max(0.25, ms / this.target(size)));
    // Most of the error goes to the common scale; the rest to the two profiled sizes around `size`.
    this.scale *= 1 + LEARNING_RATE * (ratio - 1);
    const [lo, hi, w] = bracket(size);
    const local = LEARNING_RATE * SIZE_SHARE * (ratio - 1);
    const bounded = (c: number) => Math.min(MAX_SHAPE_CHANGE, Math.max(1 / MAX_SHAPE_CHANGE, c));
    this.correction[lo] = bounded(this.correction[lo]! * (1 + (1 - w) * local));
    if (hi !== lo) this.correction[hi] = bounded(this.correction[hi]! * (1 + w * local));
  }

  observeDraft(ms: number): void {
    if (this.frozen || !(ms > 0) || !Number.isFinite(ms)) return;
    this.draftEstimate = this.draftEstimate > 0 ? this.draftEstimate + LEARNING_RATE * (ms - this.draftEstimate) : ms;
  }

  /** The current estimates at the profiled sizes, for `chimera bench --profile` and logs. */
  table(): { size: number; ms: number; relative: number }[] {
    const one = this.target(1);
    return PROFILE_SIZES.map((size) => ({ size, ms: round(this.target(size)), relative: round(this.target(size) / one) }));
  }
}

/**
 * A profile from JSON: the cache's own format, or the report `chimera bench --profile` prints (times keyed by
 * size). Throws, naming the problem, on anything else.
 */
export function parseProfile(text: string, where: string): CostProfile {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new Error(`${where}: not valid JSON`);
  }
  const times = raw.targetMs;
  const targetMs = Array.isArray(times) ? times.map(Number) : PROFILE_SIZES.map((t) => Number((times as Record<string, unknown> | undefined)?.[t]));
  if (targetMs.length !== PROFILE_SIZES.length || targetMs.some((v) => !(v > 0))) {
    throw new Error(`${where}: needs "targetMs" with a positive time for each of T = ${PROFILE_SIZES.join(', ')}`);
  }
  const draft = Number(raw.draftMs ?? raw.draftMsPerCall);
  return { targetMs, draftMs: draft > 0 ? draft : undefined, contextTokens: Number(raw.contextTokens) || 0, key: `file ${where}`, measuredAt: String(raw.measuredAt ?? '') };
}

/** A neutral starting point until a profile exists: c(T) grows by 4 % per token, the draft costs a third. */
export function defaultProfile(key = 'default'): CostProfile {
  return { targetMs: PROFILE_SIZES.map((t) => 1 + 0.04 * (t - 1)), draftMs: 0.33, contextTokens: 0, key, measuredAt: '' };
}

function bracket(size: number): [number, number, number] {
  const last = PROFILE_SIZES.length - 1;
  if (size <= PROFILE_SIZES[0]) return [0, 0, 0];
  if (size >= PROFILE_SIZES[last]) return [last, last, 0];
  let i = 0;
  while (PROFILE_SIZES[i + 1]! < size) i++;
  const lo = PROFILE_SIZES[i]!;
  const hi = PROFILE_SIZES[i + 1]!;
  return [i, i + 1, (size - lo) / (hi - lo)];
}

function interpolate(size: number, at: (i: number) => number): number {
  const last = PROFILE_SIZES.length - 1;
  if (size > PROFILE_SIZES[last]) {
    // Beyond the table, extrapolate with the last segment's slope per token.
    const slope = (at(last) - at(last - 1)) / (PROFILE_SIZES[last] - PROFILE_SIZES[last - 1]!);
    return at(last) + Math.max(0, slope) * (size - PROFILE_SIZES[last]);
  }
  const [lo, hi, w] = bracket(size);
  return at(lo) * (1 - w) + at(hi) * w;
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
