/**
 * A byte-pair-encoding model for @huggingface/tokenizers that holds its merges as integers.
 *
 * The library's own BPE model keeps, for a 151k-entry vocabulary, the parsed vocabulary object, every
 * merge as a two-string array, and a map keyed by each merge's JSON text: 48 MB of heap live, 112 MB at
 * its peak while building, and V8 keeps most of that peak resident. This one keeps the vocabulary as one
 * string with an index (VocabIndex) and the merges as a table of typed arrays (4 MB), and merges symbol
 * ids instead of strings. It plugs into the library's tokenizer as its `model`, so normalizers,
 * pre-tokenizers and decoders stay the library's.
 *
 * Its output equals the library's BPE model's on every input: the same merge order (lowest rank first,
 * then leftmost), the same handling of `ignore_merges`, `byte_fallback` and unknown tokens. Configurations
 * it does not cover (word suffixes) are left to the library (summarizeTokenizer decides).
 */
import { Model } from '@huggingface/tokenizers';
import type { BpeTables } from './tokenizerFile';

/** Open-addressed table from a pair of symbol ids to the merge's rank and the merged symbol's id. */
class MergeTable {
  private readonly left: Int32Array;
  private readonly right: Int32Array;
  private readonly rank: Int32Array;
  private readonly merged: Int32Array;
  private readonly mask: number;

  constructor(count: number) {
    let slots = 16;
    while (slots < count * 1.7) slots *= 2;
    this.mask = slots - 1;
    this.left = new Int32Array(slots).fill(-1);
    this.right = new Int32Array(slots);
    this.rank = new Int32Array(slots);
    this.merged = new Int32Array(slots);
  }

  private slot(a: number, b: number): number {
    let i = (Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca77)) & this.mask;
    while (this.left[i] !== -1 && (this.left[i] !== a || this.right[i] !== b)) i = (i + 1) & this.mask;
    return i;
  }

  /** A later duplicate of a pair takes its rank, as the library's map of ranks keeps the last one. */
  set(a: number, b: number, rank: number, merged: number): void {
    const i = this.slot(a, b);
    this.left[i] = a;
    this.right[i] = b;
    this.rank[i] = rank;
    this.merged[i] = merged;
  }

  /** The slot holding pair (a, b), or -1. */
  find(a: number, b: number): number {
    if (a < 0 || b < 0) return -1;
    const i = this.slot(a, b);
    return this.left[i] === -1 ? -1 : i;
  }

  rankAt(slot: number): number {
    return this.rank[slot]!;
  }

  mergedAt(slot: number): number {
    return this.merged[slot]!;
  }
}

/**
 * The vocabulary without a string per entry: every entry's text in one string, where each starts, and an
 * open-addressed table from a text's hash to its entry. A Map of Qwen's 151k entries with their strings
 * (and the array by id the library decodes with) held 12.7 MB of heap; this holds about 2 MB, and 3 MB of
 * typed arrays. It answers what the library asks of a model's `tokens_to_ids` map: `get` and `has`.
 */
class VocabIndex {
  /** Entry i spans text[starts[i], starts[i + 1]). */
  private readonly starts: Int32Array;
  /** Entry number + 1 per slot (0: empty). */
  private readonly slots: Int32Array;
  private readonly mask: number;
  /** The entry of each token id, or -1. */
  private readonly entryOfId: Int32Array;

  constructor(
    private readonly text: string,
    lengths: Int32Array,
    private readonly ids: Int32Array,
    /** The largest id + 1. */
    readonly idEnd: number,
  ) {
    const count = ids.length;
    this.starts = new Int32Array(count + 1);
    for (let i = 0; i < count; i++) this.starts[i + 1] = this.starts[i]! + lengths[i]!;
    let size = 16;
    while (size < count * 2) size *= 2;
    this.mask = size - 1;
    this.slots = new Int32Array(size);
    this.entryOfId = new Int32Array(idEnd).fill(-1);
    for (let i = 0; i < count; i++) {
      let slot = this.hashOf(this.starts[i]!, this.starts[i + 1]!);
      while (this.slots[slot] !== 0) slot = (slot + 1) & this.mask;
      this.slots[slot] = i + 1;
      this.entryOfId[ids[i]!] = i;
    }
  }

  /** FNV-1a over the UTF-16 units of text[from, to). */
  private hashOf(from: number, to: number, of: string = this.text): number {
    let h = 0x811c9dc5;
    for (let i = from; i < to; i++) h = Math.imul(h ^ of.charCodeAt(i), 0x01000193);
    return h & this.mask;
  }

  get(token: string): number | undefined {
    for (let slot = this.hashOf(0, token.length, token); ; slot = (slot + 1) & this.mask) {
      const entry = this.slots[slot]! - 1;
      if (entry < 0) return undefined;
      const start = this.starts[entry]!;
      if (this.starts[entry + 1]! - start === token.length && this.text.startsWith(token, start)) return this.ids[entry];
    }
  }

  has(token: string): boolean {
    return this.get(token) !== undefined;
  }

  get size(): number {
    return this.ids.length;
  }

  /** The text of token `id`, or undefined. */
  textOf(id: number): string | undefined {
    const entry = Number.isInteger(id) && id >= 0 && id < this.idEnd ? this.entryOfId[id]! : -1;
    return entry < 0 ? undefined : this.text.slice(this.starts[entry], this.starts[entry + 1]);
  }
}

/**
 * The library's `vocab` array (text by id), read as `vocab[id]` when decoding and `vocab.length`, answered
 * from the index instead of holding 151k strings.
 */
function vocabByIds(index: VocabIndex): string[] {
  return new Proxy([] as string[], {
    get(target, key, receiver) {
      if (key === 'length') return index.idEnd;
      if (typeof key === 'string' && key.length > 0 && key.length < 11) {
        const id = Number(key);
        if (Number.isInteger(id) && String(id) === key) return index.textOf(id);
      }
      return Reflect.get(target, key, receiver) as unknown;
    },
  });
}

/** Results the library would cache too: pre-tokenized words repeat, and merging them is the costly part. */
const CACHE_LIMIT = 10_000;
const CACHED_LENGTH = 256;
/** Heap keys pack a merge's rank and its left position (tokenizerFile.ts keeps ranks below 2^21, so exact). */
const POSITION_SPAN = 2 ** 32;

export class CompactBpe extends Model {
  private readonly table: MergeTable;
  /** Symbols that merges name but the vocabulary lacks, numbered after the vocabulary's ids. */
  private readonly extra: string[] = [];
  private readonly extraIds = new Map<string, number>();
  private readonly index: VocabIndex;
  private readonly firstExtra: number;
  private readonly byteFallback: boolean;
  private readonly ignoreMerges: boolean;
  private readonly cache = new Map<string, string[]>();
  private readonly utf8 = new TextEncoder();

  constructor(tables: BpeTables) {
    super({ type: 'BPE', unk_token: tables.unk_token, byte_fallback: tables.byte_fallback, ignore_merges: tables.ignore_merges, fuse_unk: tables.fuse_unk, vocab: {}, merges: [] });
    const count = tables.ids.length;
    let vocabChars = 0;
    for (let i = 0; i < count; i++) vocabChars += tables.lengths[i]!;
    this.index = new VocabIndex(tables.text.slice(0, vocabChars), tables.lengths.subarray(0, count), tables.ids, tables.firstExtra);
    for (let i = count, at = vocabChars; i < tables.lengths.length; i++) {
      const text = tables.text.slice(at, (at += tables.lengths[i]!));
      this.extraIds.set(text, tables.firstExtra + this.extra.push(text) - 1);
    }
    // The library asks only get and has of a model's map once the tokenizer is built (tokenizer.ts).
    this.tokens_to_ids = this.index as unknown as Map<string, number>;
    this.vocab = vocabByIds(this.index);
    this.firstExtra = tables.firstExtra;
    this.unk_token = tables.unk_token ?? undefined;
    this.unk_token_id = tables.unk_token !== null ? this.index.get(tables.unk_token) : undefined;
    this.byteFallback = tables.byte_fallback;
    this.ignoreMerges = tables.ignore_merges;
    const merges = tables.merges;
    this.table = new MergeTable(merges.length / 3);
    for (let rank = 0; 3 * rank < merges.length; rank++) this.table.set(merges[3 * rank]!, merges[3 * rank + 1]!, rank, merges[3 * rank + 2]!);
  }

  private textOf(symbol: number, unknown: readonly string[]): string {
    if (symbol < 0) return unknown[-1 - symbol]!;
    return symbol < this.firstExtra ? this.index.textOf(symbol)! : this.extra[symbol - this.firstExtra]!;
  }

  encode(tokens: string[]): string[] {
    const out: string[] = [];
    for (const token of tokens) {
      if (this.ignoreMerges && this.index.has(token)) {
        out.push(token);
        continue;
      }
      for (const piece of this.bpe(token)) this.emit(piece, out);
    }
    return out;
  }

  /** A piece the vocabulary has, else its UTF-8 bytes as `<0xXX>` tokens, else the unknown token. */
  private emit(piece: string, out: string[]): void {
    if (this.index.has(piece)) {
      out.push(piece);
      return;
    }
    if (this.byteFallback) {
      const bytes = Array.from(this.utf8.encode(piece), (x) => `<0x${x.toString(16).toUpperCase().padStart(2, '0')}>`);
      if (bytes.every((x) => this.index.has(x))) {
        out.push(...bytes);
        return;
      }
    }
    if (this.unk_token !== undefined) out.push(this.unk_token);
  }

  private bpe(token: string): string[] {
    if (token.length === 0) return [];
    const cached = this.cache.get(token);
    if (cached !== undefined) return cached;
    const chars = Array.from(token);
    const result = chars.length > 1 ? this.merge(chars) : chars;
    if (token.length < CACHED_LENGTH) {
      if (this.cache.size >= CACHE_LIMIT) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(token, result);
    }
    return result;
  }

  /** Merges the lowest-ranked adjacent pair, leftmost first, until no pair has a merge. */
  private merge(chars: string[]): string[] {
    const n = chars.length;
    const unknown: string[] = [];
    const symbol = new Int32Array(n);
    const prev = new Int32Array(n);
    const next = new Int32Array(n);
    const dead = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const known = this.index.get(chars[i]!) ?? this.extraIds.get(chars[i]!);
      symbol[i] = known ?? -1 - (unknown.push(chars[i]!) - 1);
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
    }
    const heap = new KeyHeap();
    const offer = (left: number) => {
      const right = next[left]!;
      const slot = right < 0 ? -1 : this.table.find(symbol[left]!, symbol[right]!);
      if (slot >= 0) heap.push(this.table.rankAt(slot) * POSITION_SPAN + left);
    };
    for (let i = 0; i + 1 < n; i++) offer(i);
    while (heap.size > 0) {
      const key = heap.pop();
      const left = key % POSITION_SPAN;
      const right = next[left]!;
      if (dead[left] || right < 0) continue;
      const slot = this.table.find(symbol[left]!, symbol[right]!);
      // A stale entry: the pair at `left` changed since it was offered (ranks are unique per pair).
      if (slot < 0 || this.table.rankAt(slot) !== Math.floor(key / POSITION_SPAN)) continue;
      symbol[left] = this.table.mergedAt(slot);
      dead[right] = 1;
      next[left] = next[right]!;
      if (next[left]! >= 0) prev[next[left]!] = left;
      if (prev[left]! >= 0) offer(prev[left]!);
      offer(left);
    }
    const out: string[] = [];
    for (let i = 0; i >= 0; i = next[i]!) out.push(this.textOf(symbol[i]!, unknown));
    return out;
  }
}

/** A binary min-heap of numbers. */
class KeyHeap {
  private readonly keys: number[] = [];

  get size(): number {
    return this.keys.length;
  }

  push(key: number): void {
    const keys = this.keys;
    let i = keys.push(key) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (keys[parent]! <= key) break;
      keys[i] = keys[parent]!;
      i = parent;
    }
    keys[i] = key;
  }

  pop(): number {
    const keys = this.keys;
    const top = keys[0]!;
    const last = keys.pop()!;
    if (keys.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= keys.length) break;
        const child = l + 1 < keys.length && keys[l + 1]! < keys[l]! ? l + 1 : l;
        if (keys[child]! >= last) break;
        keys[i] = keys[child]!;
        i = child;
      }
      keys[i] = last;
    }
    return top;
  }
}
