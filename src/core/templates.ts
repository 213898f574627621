/**
 * The template registry: the one place that turns requests into prompt token ids. Layouts come from the
 * model's manifest (`templates` in chimera.json), so a package for another model family brings its own.
 *
 * Templates are split on special-token texts *before* user text is substituted, and user text is
 * encoded literally, so code that happens to contain `<|endoftext|>` can never inject a control token.
 */
import { concatTokens, fitText, fitTurns, keepHead, keepTail, type InputTrim, type TurnSource } from './bounds';
import { CapabilityError } from './errors';
import { healPrompt } from './healing';
import type { Manifest } from './manifest';
import type { TextTokenizer } from './tokenizer';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** A request to explain code, rendered with the model's Explain prompt (its code is what may be cut). */
export interface ExplainMessage {
  role: 'user';
  explain: { code: string; languageId: string };
}

export type ConversationMessage = ChatMessage | ExplainMessage;

export interface FimRequest {
  prefix: string;
  suffix: string;
  /** Workspace-relative path; the model was trained with it as a header. */
  path?: string;
  /** Code from other files, most relevant first (inline/crossFile.ts); what fits goes before the file. */
  context?: readonly { path: string; text: string }[];
}

/** Share of a FIM prompt's budget that code from other files may take. */
const CONTEXT_SHARE = 0.25;

export interface Prompt {
  tokens: number[];
  stopStrings: string[];
  /** Text the answer is known to start with (already part of the prompt), e.g. a code fence. */
  replyPrefix: string;
  /** What was left out to fit the budget; absent when everything fit. */
  trim?: InputTrim;
  /** Text token healing took off the end (the prompt ends in the user's text); the answer re-spells it. */
  healed?: string;
}

type Piece = { special: number } | { text: string };

/** Characters per token, on the low side for code, to size FIM cuts before encoding. */
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
    const parts: number[][] = [];
    for (const piece of this.split(template)) {
      if ('special' in piece) parts.push([piece.special]);
      else parts.push(this.tokenizer.encode(piece.text.replace(/\{(\w+)\}/g, (_, k: string) => values[k] ?? '')));
    }
    return concatTokens(parts);
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
    const context = this.contextBlocks(t.file_header, req.context ?? [], Math.floor(budget * CONTEXT_SHARE));
    budget -= context.length;
    const suffixChars = Math.floor((budget / 4) * CHARS_PER_TOKEN);
    const prefixChars = budget * CHARS_PER_TOKEN - Math.min(req.suffix.length, suffixChars);
    const values = { path: req.path ?? '', prefix: keepLastLines(req.prefix, prefixChars), suffix: keepFirstLines(req.suffix, suffixChars) };
    let tokens = concatTokens([this.bos, context, this.render(layout, values)]);
    while (tokens.length > budget + context.length && values.prefix.length > 0) {
      values.prefix = keepLastLines(values.prefix, Math.floor(values.prefix.length * 0.75));
      tokens = concatTokens([this.bos, context, this.render(layout, values)]);
    }
    const dropped = req.prefix.length - values.prefix.length + req.suffix.length - values.suffix.length;
    // In suffix-prefix-middle order the prompt ends with the text before the cursor: heal its last token.
    const heal = t.layout.endsWith('{prefix}') && values.prefix.length > 0 ? healPrompt(tokens, this.tokenizer) : { tokens, healed: '' };
    return { tokens: heal.tokens, stopStrings: [], replyPrefix: '', trim: dropped > 0 ? { droppedTurns: 0, droppedChars: dropped } : undefined, healed: heal.healed || undefined };
  }

  /**
   * Snippets from other files as file blocks (the model's file header, then the code), within `budget`
   * tokens: taken most relevant first, written least relevant first so the best sits next to the file.
   * A model without a file header gets none: it was never shown where one file ends and the next begins.
   */
  private contextBlocks(fileHeader: string, snippets: readonly { path: string; text: string }[], budget: number): number[] {
    if (!fileHeader || snippets.length === 0) return [];
    const blocks: number[][] = [];
    let used = 0;
    for (const s of snippets) {
      const block = this.render(fileHeader + '{code}\n', { path: s.path, code: s.text });
      if (used + block.length > budget) continue;
      blocks.push(block);
      used += block.length;
    }
    return blocks.reverse().flat();
  }

  /** Plain text to continue (no template), keeping its end within `budget`; BOS first when the model wants one. */
  plain(text: string, budget: number): Prompt {
    const room = Math.max(1, budget - this.bos.length);
    const cut = keepTail(text, room * this.tokenizer.maxTokenChars);
    let tokens = this.tokenizer.encode(cut);
    let kept = cut.length;
    if (tokens.length > room) {
      tokens = tokens.slice(tokens.length - room);
      kept = this.tokenizer.decode(tokens).length;
    }
    const dropped = Math.max(0, text.length - kept);
    const heal = healPrompt(concatTokens([this.bos, tokens]), this.tokenizer);
    return { tokens: heal.tokens, stopStrings: [], replyPrefix: '', trim: dropped > 0 ? { droppedTurns: 0, droppedChars: dropped } : undefined, healed: heal.healed || undefined };
  }

  /**
   * A chat prompt ending with the assistant's turn, within `budget`: the system prompt and the newest
   * turn are kept (cut if they must be), older turns are dropped oldest first (see bounds.fitTurns).
   */
  chat(messages: readonly ConversationMessage[], budget: number, replyPrefix = ''): Prompt {
    const tail = concatTokens([this.render(this.manifest.templates.chat.generation_prompt, {}), this.tokenizer.encode(replyPrefix)]);
    const room = budget - this.bos.length - tail.length;
    const fitted = fitTurns(messages.map((m) => this.turnSource(m)), room, this.tokenizer.maxTokenChars);
    return { tokens: concatTokens([this.bos, ...fitted.turns, tail]), stopStrings: [], replyPrefix, trim: fitted.trim };
  }

  private turnTemplate(role: string): string {
    const c = this.manifest.templates.chat;
    return (c.turns?.[role] ?? c.turn).replace('{role}', role);
  }

  /** A turn to fit: for an Explain request the code is what may be cut, never the prompt around it. */
  private turnSource(m: ConversationMessage): TurnSource {
    const template = this.turnTemplate(m.role);
    if ('explain' in m) {
      const { code, languageId } = m.explain;
      return { role: 'user', text: code, render: (kept) => this.render(template, { content: this.explainText(kept, languageId) }) };
    }
    return { role: m.role, text: m.content, render: (kept) => this.render(template, { content: kept }) };
  }

  /** The user message asking to explain `code` (substituted literally: `$&` in code stays as it is). */
  explainText(code: string, lang: string): string {
    return fill(this.manifest.templates.prompts.explain, { lang, code });
  }

  explain(code: string, lang: string, budget: number): Prompt {
    return this.chat([{ role: 'user', explain: { code, languageId: lang } }], budget);
  }

  /**
   * A rewrite of `code` by `instruction`; the answer opens a code fence and stops at its close. The
   * instruction is kept (up to a quarter of the budget); code that does not fit is cut at a line end,
   * and `trim.codeCharsRead` says how much of it the model read.
   */
  edit(code: string, lang: string, instruction: string, budget: number): Prompt {
    const p = this.manifest.templates.prompts;
    const replyPrefix = fill(p.edit_reply_prefix, { lang });
    const tail = concatTokens([this.render(this.manifest.templates.chat.generation_prompt, {}), this.tokenizer.encode(replyPrefix)]);
    const room = budget - this.bos.length - tail.length;
    const maxChars = this.tokenizer.maxTokenChars;
    const wanted = fitText(instruction, Math.floor(room / 4), maxChars, (t) => this.tokenizer.encode(t)).text;
    const template = this.turnTemplate('user');
    const fitted = fitText(code, room, maxChars, (kept) => this.render(template, { content: fill(p.edit, { instruction: wanted, lang, code: kept }) }));
    const dropped = instruction.length - wanted.length + code.length - fitted.text.length;
    const trim = dropped > 0 ? { droppedTurns: 0, droppedChars: dropped, ...(fitted.text.length < code.length ? { codeCharsRead: fitted.text.length } : {}) } : undefined;
    return { tokens: concatTokens([this.bos, fitted.value, tail]), stopStrings: [p.edit_reply_stop], replyPrefix, trim };
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

/**
 * The end of `text` within `maxChars`, cut at a line start in blocks of lines counted from the top, so
 * the cut stays put while someone types at the end. Scans with indexOf: no copy of a long text's lines.
 */
export function keepLastLines(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  let start = 0;
  while (text.length - start > maxChars) {
    let next = start;
    let lines = 0;
    for (; lines < LINE_BLOCK; lines++) {
      const newline = text.indexOf('\n', next);
      if (newline === -1) break;
      next = newline + 1;
    }
    if (lines === 0) break; // the last line is never dropped whole
    start = next;
  }
  return keepTail(text.slice(start), maxChars);
}

/** The start of `text` within `maxChars`, cut at a line end in blocks of lines counted from the bottom. */
export function keepFirstLines(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  let end = text.length;
  while (end > maxChars) {
    let lines = 0;
    for (; lines < LINE_BLOCK && end > 0; lines++) {
      const newline = text.lastIndexOf('\n', end - 1);
      if (newline === -1) break;
      end = newline;
    }
    if (lines === 0) break; // the first line is never dropped whole
  }
  return keepHead(text.slice(0, end), maxChars, false);
}
