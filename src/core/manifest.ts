/**
 * The `chimera.json` manifest of a model package, as written by training/chimera_train/package.py.
 * Parsing is strict: a field of the wrong type is an error that names the manifest and the field.
 */
import { PackageError } from './errors';
import { checkFields, checkValue, DRAFT_FIELDS, FILE_FIELDS, int, LIMITS, MODEL_FIELDS, shown, SPECIAL_TOKEN_FIELDS, TOP_FIELDS, unsafePath } from './manifestRules';

export const MANIFEST_FILE = 'chimera.json';
export const FORMAT = 'chimera-package';
export const FORMAT_VERSION = 1;
/** More verification paths than this is no tree a draft can fill in one step. */
export const MAX_TREE_PATHS = 256;

export interface FileEntry {
  /** Relative to the package folder, never leaving it (checked). */
  path: string;
  sha256: string;
  /** Size in bytes, checked before hashing when given. */
  bytes?: number;
}

export interface SpecialToken {
  id: number;
  text: string;
}

export interface ModelDims {
  vocab_size: number;
  d_model: number;
  n_layers: number;
  n_heads: number;
  n_kv_heads: number;
  head_dim: number;
  max_context: number;
  dtype: string;
}

export interface DraftDims {
  n_steps: number;
  top_k: number;
  shortlist_size: number;
  d_model: number;
  n_heads: number;
  head_dim: number;
}

export interface FimTemplate {
  file_header: string;
  layout: string;
  stop: string[];
}

export interface ChatTemplate {
  turn: string;
  /** Per-role formats where a family's turns differ by role (Mistral's [INST] format); else `turn`. */
  turns?: Partial<Record<string, string>>;
  generation_prompt: string;
  roles: string[];
  stop: string[];
}

export interface TaskPrompts {
  explain: string;
  edit: string;
  edit_reply_prefix: string;
  edit_reply_stop: string;
  [name: string]: string;
}

export interface Manifest {
  format: string;
  format_version: number;
  name: string;
  family: string;
  model: ModelDims;
  draft: DraftDims | null;
  special_tokens: Record<string, SpecialToken>;
  stop_token_ids: number[];
  /** `fim` is null for models without fill-in-the-middle tokens (converted Llama models, say). */
  templates: { fim: FimTemplate | null; chat: ChatTemplate; prompts: TaskPrompts };
  /** Prompts start with `special_tokens.bos` (Llama and Mistral families). */
  add_bos_token?: boolean;
  tree: { paths: number[][] } | null;
  /** Other roles (`target_data`, `draft_data`: ONNX external weights of large models) are checked too. */
  files: { tokenizer: FileEntry; target: FileEntry; draft?: FileEntry; [role: string]: FileEntry | undefined };
  io: { target: { inputs: string[]; outputs: string[] }; draft?: { inputs: string[]; outputs: string[] } };
  metrics: Record<string, unknown>;
  /** Weight-only quantization (the converter's --quant); `embedding_lookup`: rows the engine reads itself (embeddings.ts). */
  quantization?: { bits?: number; block_size?: number; embedding_lookup?: { file: string; values_offset: number; scales_offset: number } };
}

type Shape = 'number' | 'string' | 'object' | 'array';

function need(value: unknown, shape: Shape, where: string, file: string): void {
  const ok =
    shape === 'array' ? Array.isArray(value) : shape === 'object' ? typeof value === 'object' && value !== null && !Array.isArray(value) : typeof value === shape;
  if (!ok) throw new PackageError(file, `field "${where}" must be ${shape === 'array' || shape === 'object' ? `an ${shape}` : `a ${shape}`}`);
}

function needFields(obj: Record<string, unknown>, fields: Record<string, Shape>, prefix: string, file: string): void {
  for (const [key, shape] of Object.entries(fields)) need(obj[key], shape, `${prefix}${key}`, file);
}

type Raw = Record<string, unknown>;

/**
 * Checks everything the engine relies on before any of it is used: structure, a range for every number,
 * and agreement between fields (heads, tree, token ids, layer count and graph names). The graphs' own
 * shapes are compared with these numbers when they are opened (model.ts). Every error names the
 * manifest and the field, so the editor can offer "Select Model…" rather than a restart.
 */
export function parseManifest(text: string, file: string): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new PackageError(file, `not valid JSON (${(err as Error).message})`);
  }
  need(raw, 'object', '(top level)', file);
  const m = raw as Raw;
  if (m.format !== FORMAT || m.format_version !== FORMAT_VERSION) {
    throw new PackageError(file, `unsupported format ${JSON.stringify(m.format)} version ${JSON.stringify(m.format_version)} (this engine reads ${FORMAT} ${FORMAT_VERSION})`);
  }
  checkFields(m, TOP_FIELDS, '', file);
  const model = m.model as Raw;
  checkFields(model, MODEL_FIELDS, 'model.', file);
  checkModel(model as unknown as ModelDims, file);
  checkFiles(m.files as Raw, file);
  if (m.draft !== null && m.draft !== undefined) checkDraft(m, file);
  checkTokens(m, model.vocab_size as number, file);
  checkIo(m.io as Raw, model.n_layers as number, m.draft !== null && m.draft !== undefined, file);
  checkTemplates(m, file);
  return { metrics: {}, draft: null, tree: null, family: 'unknown', ...(m as object) } as Manifest;
}

function checkModel(d: ModelDims, file: string): void {
  if (d.n_kv_heads > d.n_heads || d.n_heads % d.n_kv_heads !== 0) {
    throw new PackageError(file, `field "model.n_kv_heads" (${d.n_kv_heads}) must divide "model.n_heads" (${d.n_heads})`);
  }
  const perLayer = d.max_context * d.n_kv_heads * d.head_dim;
  if (perLayer > LIMITS.cacheElements) {
    const gib = (perLayer * 4) / 2 ** 30;
    throw new PackageError(file, `field "model.max_context" (${d.max_context}) is too large for this model's cache: one layer's keys would need ${gib.toFixed(1)} GiB`);
  }
}

function checkFiles(files: Raw, file: string): void {
  for (const role of ['tokenizer', 'target']) need(files[role], 'object', `files.${role}`, file);
  for (const [role, entry] of Object.entries(files)) {
    need(entry, 'object', `files.${role}`, file);
    const e = entry as Raw;
    checkFields(e, FILE_FIELDS, `files.${role}.`, file);
    const unsafe = unsafePath(e.path as string);
    if (unsafe) throw new PackageError(file, `field "files.${role}.path" (${shown(e.path)}) ${unsafe}`);
    if (!/^[0-9a-f]{64}$/i.test(e.sha256 as string)) throw new PackageError(file, `field "files.${role}.sha256" must be 64 hexadecimal digits (got ${shown(e.sha256)})`);
  }
}

function checkDraft(m: Raw, file: string): void {
  const draft = m.draft as Raw;
  checkFields(draft, DRAFT_FIELDS, 'draft.', file);
  need((m.files as Raw).draft, 'object', 'files.draft', file);
  if (typeof draft.shortlist_size === 'number' && draft.shortlist_size > ((m.model as Raw).vocab_size as number)) {
    throw new PackageError(file, `field "draft.shortlist_size" (${draft.shortlist_size}) is larger than "model.vocab_size"`);
  }
  need(m.tree, 'object', 'tree (a draft needs its tree)', file);
  checkTreePaths((m.tree as Raw).paths, draft.n_steps as number, draft.top_k as number, file);
}

/**
 * The static draft tree: each path lists candidate ranks, one per draft step; every path's parent (the
 * path without its last rank) must be listed too, so the tree has no floating branches.
 */
export function checkTreePaths(paths: unknown, steps: number, topK: number, file: string): void {
  if (!Array.isArray(paths) || paths.length === 0 || paths.length > MAX_TREE_PATHS) throw new PackageError(file, `field "tree.paths" must be a list of 1 to ${MAX_TREE_PATHS} rank paths (got ${shown(paths)})`);
  const seen = new Set<string>();
  paths.forEach((path: unknown, i) => {
    const where = `tree.paths[${i}]`;
    if (!Array.isArray(path) || path.length < 1 || path.length > steps) throw new PackageError(file, `field "${where}" must list 1 to ${steps} ranks, one per draft step (got ${shown(path)})`);
    const bad = path.find((r) => !Number.isInteger(r) || r < 0 || r >= topK);
    if (bad !== undefined) throw new PackageError(file, `field "${where}" (${shown(path)}) uses rank ${shown(bad)}; ranks run from 0 to ${topK - 1} (draft.top_k is ${topK})`);
    const key = path.join(',');
    if (seen.has(key)) throw new PackageError(file, `field "${where}" (${shown(path)}) is listed twice`);
    seen.add(key);
  });
  for (const [i, path] of (paths as number[][]).entries()) {
    if (path.length > 1 && !seen.has(path.slice(0, -1).join(','))) throw new PackageError(file, `field "tree.paths[${i}]" (${shown(path)}) has no parent path ${shown(path.slice(0, -1))} in the tree`);
  }
}

function checkTokens(m: Raw, vocab: number, file: string): void {
  const specials = m.special_tokens as Raw;
  need(specials.eot, 'object', 'special_tokens.eot', file);
  for (const [name, token] of Object.entries(specials)) {
    need(token, 'object', `special_tokens.${name}`, file);
    checkFields(token as Raw, { ...SPECIAL_TOKEN_FIELDS, id: int(0, vocab - 1) }, `special_tokens.${name}.`, file);
  }
  (m.stop_token_ids as unknown[]).forEach((id, i) => checkValue(id, int(0, vocab - 1), `stop_token_ids[${i}]`, file));
}

/** The graph names of a cache: `past_key_values.{i}.key|value` in, `present.{i}.key|value` out, one pair per layer. */
function layersNamed(names: string[], pattern: RegExp): number {
  const layers = new Set<number>();
  for (const name of names) {
    const match = pattern.exec(name);
    if (match) layers.add(Number(match[1]));
  }
  return layers.size;
}

function checkIo(io: Raw, layers: number, hasDraft: boolean, file: string): void {
  for (const part of hasDraft ? ['target', 'draft'] : ['target']) {
    need(io[part], 'object', `io.${part}`, file);
    const lists = io[part] as Raw;
    for (const kind of ['inputs', 'outputs']) {
      const names = lists[kind];
      if (!Array.isArray(names) || !names.every((n) => typeof n === 'string')) throw new PackageError(file, `field "io.${part}.${kind}" must be a list of names`);
    }
  }
  const target = io.target as { inputs: string[]; outputs: string[] };
  const named = [layersNamed(target.inputs, /^past_key_values\.(\d+)\.(?:key|value)$/), layersNamed(target.outputs, /^present\.(\d+)\.(?:key|value)$/)];
  if (named.some((n) => n !== layers)) {
    throw new PackageError(file, `field "model.n_layers" is ${layers}, but "io.target" names caches for ${named[0]} layers in and ${named[1]} out`);
  }
}

/** Converted packages may have no FIM template and may ask for a BOS token; both must be well-formed. */
function checkTemplates(m: Record<string, unknown>, file: string): void {
  const templates = m.templates as Record<string, unknown>;
  needFields(templates, { chat: 'object', prompts: 'object' }, 'templates.', file);
  if (templates.fim !== null) {
    need(templates.fim, 'object', 'templates.fim (an object, or null for a model without fill-in-the-middle)', file);
    needFields(templates.fim as Record<string, unknown>, { layout: 'string', file_header: 'string', stop: 'array' }, 'templates.fim.', file);
  }
  const chat = templates.chat as Record<string, unknown>;
  needFields(chat, { turn: 'string', generation_prompt: 'string', stop: 'array' }, 'templates.chat.', file);
  if (chat.turns !== undefined) need(chat.turns, 'object', 'templates.chat.turns', file);
  if (m.add_bos_token !== undefined && m.add_bos_token !== false) {
    if (m.add_bos_token !== true) throw new PackageError(file, 'field "add_bos_token" must be a boolean');
    need((m.special_tokens as Record<string, unknown>).bos, 'object', 'special_tokens.bos (add_bos_token is set)', file);
  }
}

export function specialId(manifest: Manifest, name: string): number | undefined {
  return manifest.special_tokens[name]?.id;
}
