/**
 * Numerical self-check of a model package: runs reference cases through the same target model and KV cache
 * the decoder uses, and compares logits and hidden states with expected values (from transformers, or
 * from the converter's own torch module: training/chimera_train/verify_cases.py writes them).
 *
 * A case is a list of steps on one fresh cache: every step but the last is a causal block committed in
 * full; the last may be a tree given by `parents`. That covers a prefill, a decode step on a cache and a
 * tree-masked verification block, the three ways the decoder calls the target.
 */
import { PackageError } from './errors';
import type { LoadedModel } from './model';
import { createTarget } from './target';
import { buildShape } from './tree';

export interface VerifyExpectation {
  /** Rows of the last `keep` tokens; columns `logit_ids` when given, else the whole vocabulary. */
  logits: number[][];
  logit_ids?: number[];
  /** Rows of every token; columns `hidden_dims` when given. */
  hidden: number[][];
  hidden_dims?: number[];
}

export interface VerifyStep {
  tokens: number[];
  parents?: number[];
  keep?: number;
  expect?: VerifyExpectation;
}

export interface VerifyCase {
  name: string;
  steps: VerifyStep[];
}

export interface VerifyCases {
  /** Largest |difference| allowed; null for a quantized package, which is judged by `min_agreement`. */
  tolerance?: number | null;
  /** Share of compared rows whose greedy token must match the reference's (quantized packages). */
  min_agreement?: number;
  cases: VerifyCase[];
}

export interface StepReport {
  tokens: number;
  keep: number;
  maxLogitDiff?: number;
  maxHiddenDiff?: number;
  /** Whether every row's best logit is at the same id as the expected row's (among the compared ids). */
  argmaxAgrees?: boolean;
  /** Rows whose best logit is at the expected row's best id, of `rowsCompared`. */
  rowsAgreeing?: number;
  rowsCompared?: number;
  /** The outputs themselves, for steps without expected values. */
  logits?: number[][];
  hidden?: number[][];
}

export interface VerifyReport {
  /** The difference bound checked, or null when the package is judged by greedy-token agreement. */
  tolerance: number | null;
  minAgreement: number | null;
  cases: { name: string; pass: boolean; steps: StepReport[] }[];
  maxLogitDiff: number;
  maxHiddenDiff: number;
  /** Share of logits rows whose greedy token matches the reference's. */
  top1Agreement: number;
  pass: boolean;
}

const isIntArray = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => Number.isInteger(x));

function checkStep(step: VerifyStep, where: string, file: string, last: boolean): void {
  if (!isIntArray(step.tokens) || step.tokens.length === 0) throw new PackageError(file, `${where}: "tokens" must be a non-empty array of token ids`);
  if (step.parents !== undefined) {
    if (!isIntArray(step.parents) || step.parents.length !== step.tokens.length) throw new PackageError(file, `${where}: "parents" must give one parent index per token`);
    if (!last) throw new PackageError(file, `${where}: only the last step of a case may be a tree`);
  }
  const keep = step.keep ?? step.tokens.length;
  if (!Number.isInteger(keep) || keep < 1 || keep > step.tokens.length) throw new PackageError(file, `${where}: "keep" must be between 1 and the number of tokens`);
  const e = step.expect;
  if (e !== undefined && (!Array.isArray(e.logits) || e.logits.length !== keep || !Array.isArray(e.hidden) || e.hidden.length !== step.tokens.length)) {
    throw new PackageError(file, `${where}: "expect" needs ${keep} logits rows and ${step.tokens.length} hidden rows`);
  }
}

/** Parses a cases file, naming the file and the case for every structural problem. */
export function parseVerifyCases(text: string, file: string): VerifyCases {
  let raw: VerifyCases;
  try {
    raw = JSON.parse(text) as VerifyCases;
  } catch (err) {
    throw new PackageError(file, `not valid JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(raw?.cases) || raw.cases.length === 0) throw new PackageError(file, 'needs a non-empty "cases" array');
  const { tolerance, min_agreement: agreement } = raw;
  if (tolerance !== undefined && tolerance !== null && !(typeof tolerance === 'number' && tolerance > 0)) throw new PackageError(file, '"tolerance" must be a positive number (or null for a quantized package)');
  if (agreement !== undefined && !(typeof agreement === 'number' && agreement > 0 && agreement <= 1)) throw new PackageError(file, '"min_agreement" must be a number in (0, 1]');
  if (tolerance === null && agreement === undefined) throw new PackageError(file, 'a package without a "tolerance" needs "min_agreement"');
  raw.cases.forEach((c, i) => {
    if (!Array.isArray(c.steps) || c.steps.length === 0) throw new PackageError(file, `case ${c.name ?? i}: needs a non-empty "steps" array`);
    c.steps.forEach((s, j) => checkStep(s, `case ${c.name ?? i}, step ${j}`, file, j === c.steps.length - 1));
  });
  return raw;
}

function compareRows(actual: Float32Array, width: number, expected: number[][], columns: number[] | undefined): { max: number; argmaxAgrees: boolean; agreeing: number } {
  let max = 0;
  let agrees = true;
  let agreeing = 0;
  expected.forEach((row, r) => {
    let bestA = -Infinity;
    let bestE = -Infinity;
    let argA = -1;
    let argE = -1;
    row.forEach((want, k) => {
      const got = actual[r * width + (columns ? columns[k]! : k)]!;
      max = Math.max(max, Math.abs(got - want));
      if (got > bestA) [bestA, argA] = [got, k];
      if (want > bestE) [bestE, argE] = [want, k];
    });
    agrees &&= argA === argE;
    if (argA === argE) agreeing++;
  });
  return { max, argmaxAgrees: agrees, agreeing };
}

function rows(data: Float32Array, count: number, width: number): number[][] {
  return Array.from({ length: count }, (_, r) => Array.from(data.subarray(r * width, (r + 1) * width)));
}

async function runCase(model: LoadedModel, c: VerifyCase): Promise<StepReport[]> {
  const m = model.manifest.model;
  const capacity = c.steps.reduce((n, s) => n + s.tokens.length, 0);
  const runner = await createTarget(model, capacity);
  const reports: StepReport[] = [];
  try {
    for (const [i, step] of c.steps.entries()) {
      const keep = step.keep ?? step.tokens.length;
      const out = await runner.forward(step.tokens, keep, step.parents ? buildShape(step.parents) : undefined);
      const report: StepReport = { tokens: step.tokens.length, keep };
      if (step.expect) {
        const logits = compareRows(out.logits, m.vocab_size, step.expect.logits, step.expect.logit_ids);
        const hidden = out.hidden ? compareRows(out.hidden, m.d_model, step.expect.hidden, step.expect.hidden_dims) : { max: 0 };
        Object.assign(report, { maxLogitDiff: logits.max, maxHiddenDiff: hidden.max, argmaxAgrees: logits.argmaxAgrees, rowsAgreeing: logits.agreeing, rowsCompared: step.expect.logits.length });
      } else {
        Object.assign(report, { logits: rows(out.logits, keep, m.vocab_size), hidden: out.hidden ? rows(out.hidden, step.tokens.length, m.d_model) : [] });
      }
      if (i < c.steps.length - 1) await out.commit(step.tokens.map((_, j) => j));
      else out.release();
      reports.push(report);
    }
  } finally {
    runner.dispose();
  }
  return reports;
}

/**
 * Runs every case. With a `tolerance`, a step passes when both its differences are within it; without one
 * (a quantized package), the whole run passes when the share of rows whose greedy token matches the
 * reference reaches `minAgreement`, and the differences are reported as they are.
 */
export async function verifyModel(model: LoadedModel, cases: VerifyCases, tolerance: number | null, minAgreement: number | null = null): Promise<VerifyReport> {
  if (tolerance === null && minAgreement === null) throw new Error('verify needs a tolerance or a minimum agreement');
  const report: VerifyReport = { tolerance, minAgreement, cases: [], maxLogitDiff: 0, maxHiddenDiff: 0, top1Agreement: 1, pass: true };
  let agreeing = 0;
  let compared = 0;
  for (const c of cases.cases) {
    const steps = await runCase(model, c);
    const pass = tolerance === null || steps.every((s) => (s.maxLogitDiff ?? 0) <= tolerance && (s.maxHiddenDiff ?? 0) <= tolerance);
    for (const s of steps) {
      report.maxLogitDiff = Math.max(report.maxLogitDiff, s.maxLogitDiff ?? 0);
      report.maxHiddenDiff = Math.max(report.maxHiddenDiff, s.maxHiddenDiff ?? 0);
      agreeing += s.rowsAgreeing ?? 0;
      compared += s.rowsCompared ?? 0;
    }
    report.cases.push({ name: c.name, pass, steps });
    report.pass &&= pass;
  }
  report.top1Agreement = compared > 0 ? agreeing / compared : 1;
  if (minAgreement !== null) report.pass &&= report.top1Agreement >= minAgreement;
  return report;
}
