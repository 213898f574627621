/**
 * Field rules for `chimera.json`, as tables: each field names its kind and, for numbers, its range.
 * A manifest is untrusted input (a downloaded or hand-edited package), and every number here sizes an
 * allocation or a loop, so none is used unchecked. To add a field, add a line to its table; an
 * optional field is `optional(rule)`.
 */
import { PackageError } from './errors';

export type Rule =
  | { kind: 'int'; min: number; max: number; optional?: boolean }
  | { kind: 'string'; nonEmpty?: boolean; optional?: boolean }
  | { kind: 'boolean'; optional?: boolean }
  | { kind: 'object'; optional?: boolean; nullable?: boolean }
  | { kind: 'array'; optional?: boolean };

export const int = (min: number, max: number): Rule => ({ kind: 'int', min, max });
export const str = (nonEmpty = false): Rule => ({ kind: 'string', nonEmpty });
export const obj = (nullable = false): Rule => ({ kind: 'object', nullable });
export const arr = (): Rule => ({ kind: 'array' });
export const bool = (): Rule => ({ kind: 'boolean' });
export const optional = (rule: Rule): Rule => ({ ...rule, optional: true });

export type Fields = Record<string, Rule>;

/** The largest values any real model has, with room: beyond them a number is a mistake, not a model. */
export const LIMITS = {
  vocab: 1 << 21,
  width: 1 << 16,
  layers: 1024,
  heads: 1024,
  headDim: 4096,
  /** Below this a prompt, an answer and one verification tree cannot fit. */
  minContext: 64,
  maxContext: 1 << 20,
  /** Elements of one layer's preallocated key (or value) cache: past this a typed array cannot be made. */
  cacheElements: 2 ** 31,
} as const;

export const TOP_FIELDS: Fields = {
  name: str(true),
  family: optional(str()),
  model: obj(),
  draft: optional(obj(true)),
  special_tokens: obj(),
  stop_token_ids: arr(),
  templates: obj(),
  add_bos_token: optional(bool()),
  tree: optional(obj(true)),
  files: obj(),
  io: obj(),
  metrics: optional(obj()),
  /** Weight-only quantization of the target (the converter's --quant): bits, block size, accuracy level. */
  quantization: optional(obj()),
};

export const MODEL_FIELDS: Fields = {
  vocab_size: int(2, LIMITS.vocab),
  d_model: int(1, LIMITS.width),
  n_layers: int(1, LIMITS.layers),
  n_heads: int(1, LIMITS.heads),
  n_kv_heads: int(1, LIMITS.heads),
  head_dim: int(1, LIMITS.headDim),
  max_context: int(LIMITS.minContext, LIMITS.maxContext),
  dtype: optional(str()),
};

export const DRAFT_FIELDS: Fields = {
  n_steps: int(1, 16),
  top_k: int(1, 64),
  shortlist_size: optional(int(1, LIMITS.vocab)),
  d_model: int(1, LIMITS.width),
  n_heads: int(1, LIMITS.heads),
  head_dim: int(1, LIMITS.headDim),
  d_ff: optional(int(1, 1 << 20)),
};

export const FILE_FIELDS: Fields = {
  path: str(true),
  sha256: str(true),
  bytes: optional(int(0, Number.MAX_SAFE_INTEGER)),
};

export const SPECIAL_TOKEN_FIELDS: Fields = {
  id: int(0, LIMITS.vocab),
  text: str(true),
};

function describe(rule: Rule): string {
  switch (rule.kind) {
    case 'int':
      return `an integer from ${rule.min} to ${rule.max}`;
    case 'string':
      return rule.nonEmpty ? 'a non-empty string' : 'a string';
    case 'object':
      return rule.nullable ? 'an object or null' : 'an object';
    case 'array':
      return 'an array';
    case 'boolean':
      return 'true or false';
  }
}

function fits(value: unknown, rule: Rule): boolean {
  switch (rule.kind) {
    case 'int':
      return typeof value === 'number' && Number.isInteger(value) && value >= rule.min && value <= rule.max;
    case 'string':
      return typeof value === 'string' && (!rule.nonEmpty || value.length > 0);
    case 'object':
      return (rule.nullable && value === null) || (typeof value === 'object' && value !== null && !Array.isArray(value));
    case 'array':
      return Array.isArray(value);
    case 'boolean':
      return typeof value === 'boolean';
  }
}

/** A short rendering of a bad value for an error message. */
export function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}

/** Checks one value against its rule, naming the manifest, the field and the allowed range. */
export function checkValue(value: unknown, rule: Rule, where: string, file: string): void {
  if (value === undefined && rule.optional) return;
  if (!fits(value, rule)) throw new PackageError(file, `field "${where}" must be ${describe(rule)} (got ${value === undefined ? 'nothing' : shown(value)})`);
}

export function checkFields(o: Record<string, unknown>, fields: Fields, prefix: string, file: string): void {
  for (const [key, rule] of Object.entries(fields)) checkValue(o[key], rule, `${prefix}${key}`, file);
}

/**
 * Why a `files.*.path` is not a plain path inside the package folder, or null when it is: absolute
 * paths, drive letters and `..` segments would let a manifest point the loader (and its hashing) at
 * any file on the machine.
 */
export function unsafePath(path: string): string | null {
  if (path.includes('\0')) return 'contains a NUL character';
  if (/^([/\\]|[A-Za-z]:)/.test(path)) return 'is absolute; it must be relative to the package folder';
  if (path.split(/[/\\]/).some((part) => part === '..')) return 'goes up with ".."; it must stay inside the package folder';
  return null;
}
