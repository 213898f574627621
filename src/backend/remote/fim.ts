/**
 * Fill-in-the-middle on a shared server. Two ways:
 * - a client-side prompt in the model family's own layout, sent to `/v1/completions` as text (vLLM rejects
 *   OpenAI's `suffix` parameter, so Tabby and this client write the prompt themselves). The layouts are
 *   the template registry's (core/formats/families.ts), plus Code Llama's;
 * - the server's own FIM: `suffix` on `/v1/completions` (Ollama, chimera serve), `suffix` on Ollama's
 *   `/api/generate`, or llama.cpp's `/infill`. The server then applies the model's template.
 */
import { FIM_FORMATS } from '../../core/formats/families';
import type { CompleteRequest } from '../backend';
import type { FimFormatSetting } from './config';
import { RemoteError } from './errors';

export type FamilyId = (typeof FIM_FORMATS)[number]['family'] | 'codellama';

export interface PromptFimFormat {
  kind: 'prompt';
  id: FamilyId;
  label: string;
  /** `{file_header}`, `{prefix}` and `{suffix}` placeholders, special tokens written as text. */
  layout: string;
  /** Opens a file in a repository-level prompt (`{path}`); empty for families trained without one. */
  fileHeader: string;
  /** Texts that end a completion: the family's end-of-text and FIM markers. */
  stop: string[];
}

export interface ServerFimFormat {
  kind: 'server';
  id: 'openai-suffix' | 'ollama' | 'llama.cpp';
  label: string;
}

export type FimFormat = PromptFimFormat | ServerFimFormat;

/** What the registry's layouts do not say: a family's name, file header and stop texts. */
const FAMILY_DETAILS: Record<FamilyId, Omit<PromptFimFormat, 'kind' | 'id' | 'layout'>> = {
  'qwen2.5-coder': { label: 'Qwen2.5-Coder', fileHeader: '<|file_sep|>{path}\n', stop: ['<|endoftext|>', '<|fim_pad|>', '<|file_sep|>', '<|im_end|>'] },
  starcoder2: { label: 'StarCoder2', fileHeader: '<file_sep>{path}\n', stop: ['<|endoftext|>', '<file_sep>', '<fim_prefix>', '<fim_middle>'] },
  'deepseek-coder': { label: 'DeepSeek-Coder', fileHeader: '', stop: ['<｜end▁of▁sentence｜>', '<｜fim▁begin｜>', '<｜fim▁hole｜>', '<|EOT|>'] },
  codestral: { label: 'Codestral', fileHeader: '', stop: ['</s>', '[PREFIX]', '[SUFFIX]'] },
  codellama: { label: 'Code Llama', fileHeader: '', stop: ['<EOT>', '</s>'] },
};

/**
 * Code Llama's infilling layout (prefix-suffix-middle, with its spaces), as the Code Llama paper and
 * Ollama's codellama template write it. The registry does not list it: no package format we load has it.
 */
const CODELLAMA_LAYOUT = '{file_header}<PRE> {prefix} <SUF>{suffix} <MID>';

const SERVER_FORMATS: Record<ServerFimFormat['id'], string> = {
  'openai-suffix': '`suffix` on /v1/completions (Ollama, chimera serve)',
  ollama: "`suffix` on Ollama's /api/generate",
  'llama.cpp': "llama.cpp's /infill",
};

/** Model ids that name their family (Hugging Face repos, Ollama tags, served names). */
const FAMILY_PATTERNS: [RegExp, FamilyId][] = [
  [/qwen[\d.]*[-_ ]?coder/i, 'qwen2.5-coder'],
  [/starcoder/i, 'starcoder2'],
  [/deepseek[-_ ]?coder/i, 'deepseek-coder'],
  [/codestral/i, 'codestral'],
  [/code[-_ ]?llama/i, 'codellama'],
];

/**
 * TGI accepts at most 4 stop sequences by default (its `max_stop_sequences`); more is a 422. The caller's
 * stops come first; the family's end-of-text comes next (servers also stop there on their own).
 */
export const MAX_STOPS = 4;

export function promptFormat(id: FamilyId): PromptFimFormat {
  const layout = id === 'codellama' ? CODELLAMA_LAYOUT : FIM_FORMATS.find((f) => f.family === id)!.layout;
  return { kind: 'prompt', id, layout, ...FAMILY_DETAILS[id] };
}

/** The format to use for `model`; 'auto' recognises the family from the model id, or throws noFimFormat. */
export function resolveFimFormat(setting: FimFormatSetting, model: string): FimFormat {
  if (setting === 'openai-suffix' || setting === 'ollama' || setting === 'llama.cpp') return { kind: 'server', id: setting, label: SERVER_FORMATS[setting] };
  if (setting !== 'auto') return promptFormat(setting);
  const family = FAMILY_PATTERNS.find(([pattern]) => pattern.test(model))?.[1];
  if (family) return promptFormat(family);
  throw new RemoteError(
    'noFimFormat',
    `no fill-in-the-middle format is known for the model ${JSON.stringify(model)}, so inline completion is off; choose its family or the server's own FIM in chimera.server.fimFormat (chat, Explain and Refactor work without it)`,
  );
}

/** Characters of code from other files a client-side prompt carries at most (the local engine's share). */
export const CONTEXT_CHARS = 6000;

/**
 * The prompt text for a client-side format: code from other files as file blocks (least relevant first,
 * so the best sits next to the file), then the family's layout around the cursor. Placeholders are
 * filled in one pass, so code that contains `{suffix}` stays as it is.
 */
export function fimPrompt(format: PromptFimFormat, req: Pick<CompleteRequest, 'prefix' | 'suffix' | 'filePath' | 'context'>): string {
  const header = format.fileHeader && req.filePath ? fill(format.fileHeader, { path: req.filePath }) : '';
  const context = format.fileHeader ? contextBlocks(format.fileHeader, req.context ?? []) : '';
  return context + fill(format.layout, { file_header: header, prefix: req.prefix, suffix: req.suffix });
}

function contextBlocks(fileHeader: string, snippets: readonly { path: string; text: string }[]): string {
  const blocks: string[] = [];
  let used = 0;
  for (const s of snippets) {
    const block = `${fill(fileHeader, { path: s.path })}${s.text}\n`;
    if (used + block.length > CONTEXT_CHARS) continue;
    blocks.push(block);
    used += block.length;
  }
  return blocks.reverse().join('');
}

/** The stop texts to send: the caller's, then the format's, at most MAX_STOPS. */
export function stopsFor(format: FimFormat, callerStops: readonly string[] = []): string[] {
  const own = format.kind === 'prompt' ? format.stop : [];
  return [...new Set([...callerStops, ...own])].slice(0, MAX_STOPS);
}

/** Replaces {name} placeholders with values taken literally, in one pass. */
export function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => values[key] ?? whole);
}
