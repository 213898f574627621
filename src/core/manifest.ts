/**
 * The `chimera.json` manifest of a model package, as written by training/chimera_train/package.py.
 * Parsing is strict: a field of the wrong type is an error that names the manifest and the field.
 */
import { PackageError } from './errors';

export const MANIFEST_FILE = 'chimera.json';
export const FORMAT = 'chimera-package';
export const FORMAT_VERSION = 1;

export interface FileEntry {
  path: string;
  sha256: string;
  bytes: number;
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
}

type Shape = 'number' | 'string' | 'object' | 'array';

function need(value: unknown, shape: Shape, where: string, file: string): void {
  const ok =
    shape === 'array' ? Array.isArray(value) : shape === 'object' ? typeof value === 'object' && value !== null && !Array.isArray(value) : typeof value === shape;
  if (!ok) throw new PackageError(file, `field "${where}" must be ${shape === 'array' ? 'an array' : `a ${shape}`}`);
}

function needFields(obj: Record<string, unknown>, fields: Record<string, Shape>, prefix: string, file: string): void {
  for (const [key, shape] of Object.entries(fields)) need(obj[key], shape, `${prefix}${key}`, file);
}

/** Checks the structure the engine relies on. Values are checked against the ONNX graphs later. */
export function parseManifest(text: string, file: string): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new PackageError(file, `not valid JSON (${(err as Error).message})`);
  }
  need(raw, 'object', '(top level)', file);
  const m = raw as Record<string, unknown>;
  if (m.format !== FORMAT || m.format_version !== FORMAT_VERSION) {
    throw new PackageError(file, `unsupported format ${JSON.stringify(m.format)} version ${JSON.stringify(m.format_version)} (this engine reads ${FORMAT} ${FORMAT_VERSION})`);
  }
  needFields(m, { name: 'string', model: 'object', special_tokens: 'object', stop_token_ids: 'array', templates: 'object', files: 'object', io: 'object' }, '', file);
  const model = m.model as Record<string, unknown>;
  needFields(model, { vocab_size: 'number', d_model: 'number', n_layers: 'number', n_heads: 'number', n_kv_heads: 'number', head_dim: 'number', max_context: 'number' }, 'model.', file);
  const files = m.files as Record<string, unknown>;
  for (const role of ['tokenizer', 'target']) need(files[role], 'object', `files.${role}`, file);
  for (const [role, entry] of Object.entries(files)) {
    need(entry, 'object', `files.${role}`, file);
    needFields(entry as Record<string, unknown>, { path: 'string', sha256: 'string' }, `files.${role}.`, file);
  }
  if (m.draft !== null && m.draft !== undefined) {
    need(m.draft, 'object', 'draft', file);
    needFields(m.draft as Record<string, unknown>, { n_steps: 'number', top_k: 'number', d_model: 'number', n_heads: 'number', head_dim: 'number' }, 'draft.', file);
    need(files.draft, 'object', 'files.draft', file);
    need((m.tree as Record<string, unknown> | null)?.paths, 'array', 'tree.paths', file);
  }
  for (const name of ['eot']) {
    need((m.special_tokens as Record<string, unknown>)[name], 'object', `special_tokens.${name}`, file);
  }
  checkTemplates(m, file);
  return { metrics: {}, draft: null, tree: null, ...(m as object) } as Manifest;
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
