/**
 * The template registry: the one place that turns requests into prompt token ids. Layouts come from the
 * model's manifest (`templates` in chimera.json), so a package for another model family brings its own.
 *
 * Templates are split on special-token texts *before* user text is substituted, and user text is
 * encoded literally, so code that happens to contain `<|endoftext|>` can never inject a control token.
 */
import { CapabilityError } from './errors';
import type { Manifest } from './manifest';
import type { TextTokenizer } from './tokenizer';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface FimRequest {
  prefix: string;
  suffix: string;
  /** Workspace-relative path; the model was trained with it as a header. */
  path?: string;
}

export interface Prompt {
  tokens: number[];
  stopStrings: string[];
  /** Text the answer is known to start with (already part of the prompt), e.g. a code fence. */
  replyPrefix: string;
}

type Piece = { special: number } | { text: string };

/** Characters per token, on the low side for code, to size text cuts before encoding. */
const CHARS_PER_TOKEN = 3;
/** Lines are dropped in blocks so that a cut stays put while someone types (prefix-cache friendly). */
const LINE_BLOCK = 32;

export class TemplateRegistry {
  private readonly specialTexts: { text: string; id: number }[];
  /** Prepended to every templated prompt: the BOS token for families trained with one (Llama, Mistral). */
  private readonly bos: number[];

  constructor(
    private readonly manifest: Manifest,
    private readonly tokenizer: TextTokenizer,
  ) {
    this.specialTexts = Object.values(manifest.special_tokens)
      .map((t) => ({ text: t.text, id: t.id }))
      .sort((a, b) => b.text.length - a.text.length);
    const bos = manifest.special_tokens.bos;
    this.bos = manifest.add_bos_token === true && bos !== undefined ? [bos.id] : [];
  }

  /** False for models without fill-in-the-middle tokens: they can chat but not complete inline. */
  get hasFim(): boolean {
    return this.manifest.templates.fim !== null;
  }

  /** Splits a template into special tokens and text with {placeholders} filled afterwards. */
  render(template: string, values: Record<string, string>): number[] {
    const ids: number[] = [];
    for (const piece of this.split(template)) {
      if ('special' in piece) ids.push(piece.special);
      else ids.push(...this.tokenizer.encode(piece.text.replace(/\{(\w+)\}/g, (_, k: string) => values[k] ?? '')));
    }
    return ids;
  }

  private split(template: string): Piece[] {
    const pieces: Piece[] = [];
    let rest = template;
    while (rest.length > 0) {
      let at = -1;
      let hit: { text: string; id: number } | undefined;
      for (const s of this.specialTexts) {
        const i = rest.indexOf(s.text);
        if (i !== -1 && (at === -1 || i < at)) {
          at = i;
          hit = s;
        }
      }
      if (hit === undefined) {
        pieces.push({ text: rest });
        break;
      }
      if (at > 0) pieces.push({ text: rest.slice(0, at) });
      pieces.push({ special: hit.id });
      rest = rest.slice(at + hit.text.length);
    }
    return pieces;
  }

  /** A fill-in-the-middle prompt of at most `budget` tokens, cutting far-away lines first. */
  fim(req: FimRequest, budget: number): Prompt {
    const t = this.manifest.templates.fim;
    if (t === null) {
      throw new CapabilityError(`the model ${this.manifest.name} has no fill-in-the-middle template (its tokenizer has no FIM tokens), so it cannot complete code inline; use chat, or choose a code model with FIM tokens (Qwen2.5-Coder, for example)`);
    }
    const header = req.path ? t.file_header : '';
    const layout = t.layout.replace('{file_header}', header);
    const suffixChars = Math.floor((budget / 4) * CHARS_PER_TOKEN);
    const prefixChars = budget * CHARS_PER_TOKEN - Math.min(req.suffix.length, suffixChars);
    const values = { path: req.path ?? '', prefix: keepLastLines(req.prefix, prefixChars), suffix: keepFirstLines(req.suffix, suffixChars) };
    let tokens = [...this.bos, ...this.render(layout, values)];
    while (tokens.length > budget && values.prefix.length > 0) {
      values.prefix = keepLastLines(values.prefix, Math.floor(values.prefix.length * 0.75));
      tokens = [...this.bos, ...this.render(layout, values)];
    }
    return { tokens, stopStrings: [], replyPrefix: '' };
  }

  /** Plain text to continue (no template), keeping its end within `budget`; BOS first when the model wants one. */
  plain(text: string, budget: number): Prompt {
    const tokens = this.tokenizer.encode(text);
    const room = Math.max(1, budget - this.bos.length);
    return { tokens: [...this.bos, ...tokens.slice(Math.max(0, tokens.length - room))], stopStrings: [], replyPrefix: '' };
  }

  /** A chat prompt ending with the assistant's turn, dropping the oldest turns to fit `budget`. */
  chat(messages: readonly ChatMessage[], budget: number, replyPrefix = ''): Prompt {
    const c = this.manifest.templates.chat;
    const turns = messages.map((m) => this.render((c.turns?.[m.role] ?? c.turn).replace('{role}', m.role), { content: m.content }));
    const tail = this.render(c.generation_prompt, {}).concat(this.tokenizer.encode(replyPrefix));
    const keep: number[][] = [];
    let used = this.bos.length + tail.length;
    const system = messages[0]?.role === 'system' ? turns[0]! : null;
    if (system) used += system.length;
    for (let i = turns.length - 1; i >= (system ? 1 : 0); i--) {
      if (used + turns[i]!.length > budget && keep.length > 0) break;
      keep.unshift(turns[i]!);
      used += turns[i]!.length;
    }
    return { tokens: [...this.bos, ...(system ?? []), ...keep.flat(), ...tail], stopStrings: [], replyPrefix };
  }

  /** The user message asking to explain `code` (substituted literally: `$&` in code stays as it is). */
  explainText(code: string, lang: string): string {
    return fill(this.manifest.templates.prompts.explain, { lang, code });
  }

  explain(code: string, lang: string, budget: number): Prompt {
    return this.chat([{ role: 'user', content: this.explainText(code, lang) }], budget);
  }

  /** A rewrite of `code` by `instruction`; the answer opens a code fence and stops at its close. */
  edit(code: string, lang: string, instruction: string, budget: number): Prompt {
    const p = this.manifest.templates.prompts;
    const content = fill(p.edit, { instruction, lang, code });
    const prompt = this.chat([{ role: 'user', content }], budget, fill(p.edit_reply_prefix, { lang }));
    return { ...prompt, stopStrings: [p.edit_reply_stop] };
  }

  /** Token ids that end a chat reply or an inline completion. */
  stopTokenIds(kind: 'chat' | 'fim'): number[] {
    const fim = this.manifest.templates.fim;
    if (kind === 'fim' && fim === null) return [...this.manifest.stop_token_ids]; // plain continuations
    const stops = kind === 'chat' ? this.manifest.templates.chat.stop : fim!.stop;
    return stops.map((s) => this.specialTexts.find((t) => t.text === s)?.id).filter((id): id is number => id !== undefined);
  }
}

/** Replaces {name} placeholders with values taken literally. */
function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => values[key] ?? whole);
}

/** The end of `text` within `maxChars`, cut at a line start in blocks of lines so the cut is stable. */
export function keepLastLines(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const lines = text.split('\n');
  let drop = 0;
  let length = text.length;
  while (length > maxChars && drop < lines.length - 1) {
    const next = Math.min(lines.length - 1, drop + LINE_BLOCK);
    for (let i = drop; i < next; i++) length -= lines[i]!.length + 1;
    drop = next;
  }
  const kept = lines.slice(drop).join('\n');
  return kept.length <= maxChars ? kept : kept.slice(kept.length - maxChars);
}

/** The start of `text` within `maxChars`, cut at a line end in blocks of lines. */
export function keepFirstLines(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const lines = text.split('\n');
  let keep = lines.length;
  let length = text.length;
  while (length > maxChars && keep > 1) {
    const next = Math.max(1, keep - LINE_BLOCK);
    for (let i = next; i < keep; i++) length -= lines[i]!.length + 1;
    keep = next;
  }
  const kept = lines.slice(0, keep).join('\n');
  return kept.length <= maxChars ? kept : kept.slice(0, maxChars);
}
