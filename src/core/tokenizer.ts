/**
 * Tokenizer wrapper over @huggingface/tokenizers.
 *
 * Text is encoded *literally*: the added-token table is dropped from the encoder, so a string like
 * `<|endoftext|>` inside someone's code is ordinary text and can never end a prompt early or inject a
 * chat turn. Special tokens enter prompts only by id (see templates.ts). Training encodes the same way
 * (Python's `encode_special_tokens = True`), and training/tests checks the two agree.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { CompactBpe } from './bpe';
import { PackageError } from './errors';
import type { Manifest } from './manifest';
import { readTokenizerFile, type TokenizerSummary } from './tokenizerFile';

/** An added token (outside the byte-level vocabulary, or overriding it), as tokenizer.json lists it. */
interface AddedToken {
  content: string;
  special: boolean;
}

function addedTokens(json: Record<string, unknown>): Map<number, AddedToken> {
  const added = new Map<number, AddedToken>();
  for (const t of (json.added_tokens as { id?: unknown; content?: unknown; special?: unknown }[] | undefined) ?? []) {
    if (typeof t.id === 'number' && typeof t.content === 'string') added.set(t.id, { content: t.content, special: t.special === true });
  }
  return added;
}

/**
 * The library's tokenizer, without the added-token table. A BPE model is ours (bpe.ts: a third of the
 * library's heap for Qwen's vocabulary); the library builds its tokenizer around an empty model, for
 * ours to replace.
 */
function libraryTokenizer({ json, bpe }: TokenizerSummary): Tokenizer {
  if (bpe === null) return new Tokenizer({ ...json, added_tokens: [] }, {});
  const tokenizer = new Tokenizer({ ...json, model: { ...(json.model as object), vocab: {}, merges: [] }, added_tokens: [] }, {});
  tokenizer.model = new CompactBpe(bpe);
  return tokenizer;
}

export class TextTokenizer {
  private readonly specialIds: Set<number>;

  /**
   * One library tokenizer, built without the added-token table, serves both directions: a second one
   * with the table, only for decoding, held another copy of the vocabulary and merges (24 MB of heap for
   * a 151k-token vocabulary). Decoding puts added tokens back from `added` itself.
   */
  private constructor(
    private readonly literal: Tokenizer,
    private readonly added: Map<number, AddedToken>,
    private readonly manifest: Manifest,
    /** Upper bound on the characters of text one token covers; input is cut by it before encoding. */
    readonly maxTokenChars: number,
  ) {
    this.specialIds = new Set(Object.values(manifest.special_tokens).map((t) => t.id));
  }

  static async load(path: string, manifest: Manifest): Promise<TextTokenizer> {
    let file: TokenizerSummary;
    try {
      file = await readTokenizerFile(path);
    } catch (err) {
      throw new PackageError(path, `not a readable tokenizer (${(err as Error).message})`);
    }
    let literal: Tokenizer;
    try {
      literal = libraryTokenizer(file);
    } catch (err) {
      throw new PackageError(path, `not a loadable tokenizer (${(err as Error).message})`);
    }
    const top = file.highest;
    if (top >= manifest.model.vocab_size) throw new PackageError(path, `has token id ${top}, but the model's vocabulary (model.vocab_size in chimera.json) has ${manifest.model.vocab_size} entries`);
    const added = addedTokens(file.json);
    const idOf = new Map([...added].map(([id, t]) => [t.content, id]));
    for (const [name, token] of Object.entries(manifest.special_tokens)) {
      const id = idOf.get(token.text) ?? literal.token_to_id(token.text);
      if (id !== token.id) throw new PackageError(path, `special token ${name} ${JSON.stringify(token.text)} has id ${id}, the manifest says ${token.id}`);
    }
    return new TextTokenizer(literal, added, manifest, file.longest);
  }

  encode(text: string): number[] {
    return text.length === 0 ? [] : this.literal.encode(text, { add_special_tokens: false }).ids;
  }

  /**
   * Decodes ids to text, leaving out special tokens (the manifest's, and added tokens marked special).
   * Other added tokens read as their own text, and the byte-level runs between them are decoded apart,
   * as the library's decoder does with its added-token table.
   */
  decode(ids: readonly number[]): string {
    let text = '';
    let run: number[] = [];
    const flush = () => {
      // The library rejects an empty list (what a run of special tokens leaves).
      if (run.length > 0) text += this.literal.decode(run, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
      run = [];
    };
    for (const id of ids) {
      if (this.specialIds.has(id)) continue;
      const added = this.added.get(id);
      if (added === undefined) run.push(id);
      else if (!added.special) {
        flush();
        text += added.content;
      }
    }
    flush();
    return text;
  }

  special(name: string): number {
    const token = this.manifest.special_tokens[name];
    if (token === undefined) throw new Error(`the model has no special token "${name}"`);
    return token.id;
  }

  hasSpecial(name: string): boolean {
    return this.manifest.special_tokens[name] !== undefined;
  }

  isSpecial(id: number): boolean {
    return this.specialIds.has(id);
  }
}

/**
 * Turns a growing list of token ids into text deltas without ever emitting half a character.
 * Decoding one token at a time yields U+FFFD where a character spans tokens, so it decodes a short
 * window of recent ids and holds text back while it ends in an incomplete character.
 */
export class StreamingDecoder {
  private readonly ids: number[] = [];
  private prefixOffset = 0;
  private readOffset = 0;

  constructor(private readonly tokenizer: Pick<TextTokenizer, 'decode'>) {}

  push(newIds: readonly number[]): string {
    for (const id of newIds) this.ids.push(id);
    const prefixText = this.tokenizer.decode(this.ids.slice(this.prefixOffset, this.readOffset));
    const fullText = this.tokenizer.decode(this.ids.slice(this.prefixOffset));
    if (fullText.length > prefixText.length && !fullText.endsWith('\uFFFD')) {
      this.prefixOffset = this.readOffset;
      this.readOffset = this.ids.length;
      return fullText.slice(prefixText.length);
    }
    return '';
  }

  /** Whatever is still held back, at the end of a generation (a truly invalid byte stays U+FFFD). */
  flush(): string {
    const prefixText = this.tokenizer.decode(this.ids.slice(this.prefixOffset, this.readOffset));
    const fullText = this.tokenizer.decode(this.ids.slice(this.prefixOffset));
    this.prefixOffset = this.readOffset = this.ids.length;
    return fullText.slice(prefixText.length);
  }
}
