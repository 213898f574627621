/**
 * Standard ONNX LLM exports as model packages: the Optimum / transformers.js layout that onnx-community
 * publishes (`onnx/model*.onnx` beside config.json and the tokenizer files) and onnxruntime-genai's
 * (`genai_config.json` beside `model.onnx`). A folder without a chimera.json is read as one of these: its
 * dimensions from config.json (or genai_config.json), its special tokens, chat and FIM formats from the
 * tokenizer (families.ts), its end tokens from generation_config.json, and the graph's names from its
 * layout. The result is an ordinary ModelPackage, so the rest of the engine does not know the difference.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { PackageError } from '../errors';
import { FORMAT, FORMAT_VERSION, type Manifest } from '../manifest';
import { familyTemplates } from './families';

export type StandardLayoutKind = 'optimum' | 'genai';

/** The graph's names: what the engine feeds and reads. */
export interface StandardLayout {
  kind: StandardLayoutKind;
  /** `past_key_values.%d.key` style templates, %d the layer. */
  pastKey: string;
  pastValue: string;
  presentKey: string;
  presentValue: string;
  /** Whether the graph takes position_ids (genai graphs derive positions from the attention mask). */
  positionIds: boolean;
}

/** ONNX files of an Optimum folder, in the order the engine prefers them on a CPU when several are there. */
const OPTIMUM_PREFERENCE = ['model.onnx', 'model_quantized.onnx', 'model_int8.onnx', 'model_uint8.onnx', 'model_q4.onnx', 'model_fp16.onnx', 'model_q4f16.onnx'];

const exists = (path: string) => stat(path).then((s) => s.isFile(), () => false);

async function readJson(path: string, what: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new PackageError(path, `missing (${what})`);
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new PackageError(path, `not valid JSON (${(err as Error).message})`);
  }
}

/** Which standard layout `dir` holds, or null when it has neither marker file. */
export async function detectStandard(dir: string): Promise<StandardLayoutKind | null> {
  if (await exists(join(dir, 'genai_config.json'))) return 'genai';
  if (await exists(join(dir, 'config.json'))) return 'optimum';
  return null;
}

/** The ONNX file of an Optimum folder (or a named variant of it). */
export async function optimumGraph(dir: string, variant?: string): Promise<string> {
  const onnxDir = join(dir, 'onnx');
  const files = await readdir(onnxDir).catch(() => [] as string[]);
  const graphs = files.filter((f) => f.endsWith('.onnx'));
  if (variant) {
    if (!graphs.includes(variant)) throw new PackageError(join(onnxDir, variant), `missing (the folder has ${graphs.join(', ') || 'no ONNX files'})`);
    return join(onnxDir, variant);
  }
  const chosen = OPTIMUM_PREFERENCE.find((f) => graphs.includes(f)) ?? graphs.sort()[0];
  if (!chosen) throw new PackageError(onnxDir, 'no ONNX model here (an Optimum export keeps it in onnx/model.onnx)');
  return join(onnxDir, chosen);
}

function num(obj: Record<string, unknown>, key: string, where: string, fallback?: number): number {
  const v = obj[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new PackageError(where, `needs a positive integer "${key}"`);
  return v;
}

function precisionOf(file: string): string {
  const name = basename(file, '.onnx');
  const match = /model_(fp16|q4f16|q4|int8|uint8|quantized|bnb4)$/.exec(name);
  return match ? ({ quantized: 'int8', uint8: 'int8' } as Record<string, string>)[match[1]!] ?? match[1]! : 'float32';
}

interface Dims {
  family: string;
  vocab: number;
  width: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  context: number;
  eos: number[];
}

async function optimumDims(dir: string): Promise<Dims> {
  const path = join(dir, 'config.json');
  const cfg = await readJson(path, 'the model configuration');
  const heads = num(cfg, 'num_attention_heads', path);
  const width = num(cfg, 'hidden_size', path);
  const gen = await readJson(join(dir, 'generation_config.json'), 'generation config').catch(() => ({}) as Record<string, unknown>);
  return {
    family: typeof cfg.model_type === 'string' ? cfg.model_type : 'unknown',
    vocab: num(cfg, 'vocab_size', path),
    width,
    layers: num(cfg, 'num_hidden_layers', path),
    heads,
    kvHeads: num(cfg, 'num_key_value_heads', path, heads),
    headDim: num(cfg, 'head_dim', path, Math.floor(width / heads)),
    context: Math.min(num(cfg, 'max_position_embeddings', path, 4096), 1 << 20),
    eos: ids(gen.eos_token_id ?? cfg.eos_token_id),
  };
}

async function genaiDims(dir: string): Promise<{ dims: Dims; graph: string; layout: Partial<StandardLayout> }> {
  const path = join(dir, 'genai_config.json');
  const model = ((await readJson(path, 'onnxruntime-genai configuration')).model ?? {}) as Record<string, unknown>;
  const dec = (model.decoder ?? {}) as Record<string, unknown>;
  const inputs = (dec.inputs ?? {}) as Record<string, string>;
  const outputs = (dec.outputs ?? {}) as Record<string, string>;
  const heads = num(dec, 'num_attention_heads', path);
  const dims: Dims = {
    family: typeof model.type === 'string' ? model.type : 'unknown',
    vocab: num(model, 'vocab_size', path),
    width: num(dec, 'hidden_size', path),
    layers: num(dec, 'num_hidden_layers', path),
    heads,
    kvHeads: num(dec, 'num_key_value_heads', path, heads),
    headDim: num(dec, 'head_size', path),
    context: num(model, 'context_length', path),
    eos: ids(model.eos_token_id),
  };
  const graph = join(dir, typeof dec.filename === 'string' ? dec.filename : 'model.onnx');
  return { dims, graph, layout: { pastKey: inputs.past_key_names, pastValue: inputs.past_value_names, presentKey: outputs.present_key_names, presentValue: outputs.present_value_names } };
}

function ids(v: unknown): number[] {
  const list = Array.isArray(v) ? v : [v];
  return list.filter((x): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0);
}

export interface StandardPackage {
  dir: string;
  manifest: Manifest;
  tokenizerPath: string;
  targetPath: string;
  draftPath: null;
  layout: StandardLayout;
}

/** Reads a standard export folder as a package; every problem names the file it concerns. */
export async function loadStandardPackage(dir: string, kind: StandardLayoutKind, variant?: string): Promise<StandardPackage> {
  const tokenizerPath = join(dir, 'tokenizer.json');
  const tokenizer = await readJson(tokenizerPath, 'the model\'s tokenizer');
  let dims: Dims;
  let targetPath: string;
  let names: Partial<StandardLayout> = {};
  if (kind === 'genai') {
    const g = await genaiDims(dir);
    [dims, targetPath, names] = [g.dims, g.graph, g.layout];
  } else {
    [dims, targetPath] = [await optimumDims(dir), await optimumGraph(dir, variant)];
  }
  if (!(await exists(targetPath))) throw new PackageError(targetPath, 'missing (the model graph)');
  const added = new Map<string, number>();
  for (const t of (tokenizer.added_tokens ?? []) as { content?: unknown; id?: unknown }[]) {
    if (typeof t.content === 'string' && typeof t.id === 'number') added.set(t.content, t.id);
  }
  let family;
  try {
    family = familyTemplates(dims.family, added, dims.eos);
  } catch (err) {
    throw new PackageError(tokenizerPath, (err as Error).message);
  }
  const layout: StandardLayout = {
    kind,
    pastKey: names.pastKey ?? 'past_key_values.%d.key',
    pastValue: names.pastValue ?? 'past_key_values.%d.value',
    presentKey: names.presentKey ?? 'present.%d.key',
    presentValue: names.presentValue ?? 'present.%d.value',
    positionIds: kind === 'optimum',
  };
  const layers = Array.from({ length: dims.layers }, (_, i) => i);
  const manifest: Manifest = {
    format: FORMAT,
    format_version: FORMAT_VERSION,
    name: basename(dir),
    family: dims.family,
    model: { vocab_size: dims.vocab, d_model: dims.width, n_layers: dims.layers, n_heads: dims.heads, n_kv_heads: dims.kvHeads, head_dim: dims.headDim, max_context: dims.context, dtype: precisionOf(targetPath) },
    draft: null,
    special_tokens: family.special,
    stop_token_ids: family.stopIds,
    templates: family.templates,
    add_bos_token: family.addBos,
    tree: null,
    files: { tokenizer: { path: 'tokenizer.json', sha256: '' }, target: { path: targetPath.slice(dir.length + 1), sha256: '' } },
    io: {
      target: {
        inputs: ['input_ids', 'attention_mask', ...(layout.positionIds ? ['position_ids'] : []), ...layers.flatMap((i) => [layout.pastKey, layout.pastValue].map((t) => t.replace('%d', String(i))))],
        outputs: ['logits', ...layers.flatMap((i) => [layout.presentKey, layout.presentValue].map((t) => t.replace('%d', String(i))))],
      },
    },
    metrics: { source: `${kind} export`, chat_format: family.chatFormat },
  };
  return { dir, manifest, tokenizerPath, targetPath, draftPath: null, layout };
}
