/**
 * Prompt formats of the model families, recognised from a tokenizer's special tokens: the TypeScript side
 * of the converter's families.py, for model folders that come without a chimera.json (standard ONNX
 * exports). The chat format is the one whose markers the tokenizer has, else the architecture's usual one;
 * fill-in-the-middle is offered only when the tokenizer has a known set of FIM tokens.
 */
import type { ChatTemplate, FimTemplate, Manifest, SpecialToken } from '../manifest';

type PromptTemplates = Manifest['templates'];

interface ChatFormat {
  name: string;
  markers: string[];
  turn: string;
  generationPrompt: string;
  stop: string[];
  eot: string[];
  bos?: string;
  turns?: Record<string, string>;
}

const CHAT_FORMATS: Record<string, ChatFormat> = {
  chatml: { name: 'chatml', markers: ['<|im_start|>', '<|im_end|>'], turn: '<|im_start|>{role}\n{content}<|im_end|>\n', generationPrompt: '<|im_start|>assistant\n', stop: ['<|im_end|>', '<|endoftext|>'], eot: ['<|endoftext|>', '<|im_end|>'] },
  llama3: {
    name: 'llama3',
    markers: ['<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>'],
    turn: '<|start_header_id|>{role}<|end_header_id|>\n\n{content}<|eot_id|>',
    generationPrompt: '<|start_header_id|>assistant<|end_header_id|>\n\n',
    stop: ['<|eot_id|>', '<|eom_id|>', '<|end_of_text|>'],
    eot: ['<|end_of_text|>', '<|eot_id|>'],
    bos: '<|begin_of_text|>',
  },
  inst: { name: 'inst', markers: [], turn: '[INST] {content} [/INST]', generationPrompt: '', stop: ['</s>'], eot: ['</s>'], bos: '<s>', turns: { assistant: '{content}</s>' } },
};
const DEFAULT_CHAT: Record<string, string> = { qwen2: 'chatml', qwen3: 'chatml', llama: 'llama3', mistral: 'inst' };

/**
 * The fill-in-the-middle layouts of the code model families, recognised by their FIM tokens. Exported for
 * the shared-server backend (backend/remote/fim.ts), which writes the same prompts as text.
 */
export const FIM_FORMATS: readonly { family: 'qwen2.5-coder' | 'starcoder2' | 'deepseek-coder' | 'codestral'; tokens: string[]; layout: string }[] = [
  { family: 'qwen2.5-coder', tokens: ['<|fim_prefix|>', '<|fim_suffix|>', '<|fim_middle|>'], layout: '{file_header}<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>' },
  { family: 'starcoder2', tokens: ['<fim_prefix>', '<fim_suffix>', '<fim_middle>'], layout: '{file_header}<fim_prefix>{prefix}<fim_suffix>{suffix}<fim_middle>' },
  { family: 'deepseek-coder', tokens: ['<｜fim▁begin｜>', '<｜fim▁hole｜>', '<｜fim▁end｜>'], layout: '{file_header}<｜fim▁begin｜>{prefix}<｜fim▁hole｜>{suffix}<｜fim▁end｜>' },
  { family: 'codestral', tokens: ['[SUFFIX]', '[PREFIX]'], layout: '{file_header}[SUFFIX]{suffix}[PREFIX]{prefix}' },
];
export const FILE_HEADERS = ['<|file_sep|>', '<file_sep>', '<filename>'];
export const FIM_STOPS = ['<|fim_pad|>', '<|repo_name|>', '<|file_sep|>', '<file_sep>', '<filename>', '<|im_start|>', '<|im_end|>', '<|eot_id|>'];

export const TASK_PROMPTS = {
  explain: 'Explain this code:\n```{lang}\n{code}\n```',
  edit: '{instruction}:\n```{lang}\n{code}\n```',
  edit_reply_prefix: '```{lang}\n',
  edit_reply_stop: '\n```',
  write: 'Write a {lang_name} function `{signature}`: {summary}',
};

const KNOWN_MARKERS = new Set<string>([
  ...Object.values(CHAT_FORMATS).flatMap((f) => [...f.markers, ...f.stop, ...f.eot, ...(f.bos ? [f.bos] : [])]),
  '[INST]', '[/INST]', ...FILE_HEADERS, ...FIM_STOPS, ...FIM_FORMATS.flatMap((f) => f.tokens),
]);

export interface FamilyTemplates {
  chatFormat: string;
  templates: PromptTemplates;
  special: Record<string, SpecialToken>;
  stopIds: number[];
  addBos: boolean;
}

/** A manifest name for a special token: `<|im_start|>` -> im_start, `[/INST]` -> end_inst. */
export function tokenName(text: string): string {
  return text.toLowerCase().replace(/\//g, 'end_').replace(/▁/g, '_').replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '') || 'token';
}

function chooseChat(family: string, tokens: Map<string, number>): ChatFormat {
  for (const fmt of Object.values(CHAT_FORMATS)) if (fmt.markers.length > 0 && fmt.markers.every((m) => tokens.has(m))) return fmt;
  const usual = CHAT_FORMATS[DEFAULT_CHAT[family] ?? 'inst']!;
  return usual.markers.every((m) => tokens.has(m)) ? usual : CHAT_FORMATS.inst!;
}

function fimTemplate(tokens: Map<string, number>, eot: string): FimTemplate | null {
  const fmt = FIM_FORMATS.find((f) => f.tokens.every((t) => tokens.has(t)));
  if (!fmt) return null;
  const header = FILE_HEADERS.find((h) => tokens.has(h));
  const stop = [...new Set([eot, ...fmt.tokens, ...FIM_STOPS.filter((t) => tokens.has(t))])];
  return { file_header: header ? `${header}{path}\n` : '', layout: fmt.layout, stop };
}

/**
 * Templates, special tokens and stop ids for a family from its tokenizer's added tokens. `extraEot` adds end
 * ids the model's generation config names. Throws, naming the token, when the format's end-of-text or
 * BOS token is missing.
 */
export function familyTemplates(family: string, added: Map<string, number>, extraEot: readonly number[] = []): FamilyTemplates {
  const chat = chooseChat(family, added);
  const eot = chat.eot.find((t) => added.has(t));
  if (eot === undefined) throw new Error(`none of the end-of-text tokens ${JSON.stringify(chat.eot)} of the ${chat.name} chat format is among the tokenizer's added tokens`);
  if (chat.bos && !added.has(chat.bos)) throw new Error(`the ${chat.name} chat format starts prompts with ${chat.bos}, which the tokenizer lacks`);
  const stops = chat.stop.filter((t) => added.has(t));
  const chatTemplate: ChatTemplate = { turn: chat.turn, generation_prompt: chat.generationPrompt, roles: ['system', 'user', 'assistant'], stop: stops, ...(chat.turns ? { turns: chat.turns } : {}) };
  const templates: PromptTemplates = { fim: fimTemplate(added, eot), chat: chatTemplate, prompts: { ...TASK_PROMPTS } };
  const special: Record<string, SpecialToken> = { eot: { id: added.get(eot)!, text: eot } };
  if (chat.bos) special.bos = { id: added.get(chat.bos)!, text: chat.bos };
  const used = templateTexts(templates);
  const taken = new Set(Object.values(special).map((s) => s.id));
  for (const [text, id] of [...added].sort((a, b) => a[1] - b[1])) {
    if (!KNOWN_MARKERS.has(text) || !used.includes(text) || taken.has(id)) continue;
    const name = tokenName(text);
    special[special[name] ? `${name}_${id}` : name] = { id, text };
    taken.add(id);
  }
  const stopIds = [...new Set([added.get(eot)!, ...stops.map((s) => added.get(s)!), ...extraEot])].sort((a, b) => a - b);
  return { chatFormat: chat.name, templates, special, stopIds, addBos: chat.bos !== undefined };
}

function templateTexts(t: PromptTemplates): string {
  const parts = [t.chat.turn, t.chat.generation_prompt, ...t.chat.stop, ...Object.values(t.chat.turns ?? {})];
  if (t.fim) parts.push(t.fim.layout, t.fim.file_header, ...t.fim.stop);
  return parts.join('\n');
}
