/**
 * A byte-pair-encoding model for @huggingface/tokenizers that holds its merges as integers.
 *
 * The library's own BPE model keeps, for a 151k-entry vocabulary, the parsed vocabulary object, every
 * merge as a two-string array, and a map keyed by each merge's JSON text: 48 MB of heap live, 112 MB at
 * its peak while building, and V8 keeps most of that peak resident. This one keeps the vocabulary (a map
 * and an array sharing the same strings, as the library's tokenizer needs them) and a merge table of
 * typed arrays (4 MB), and merges symbol ids instead of strings. It plugs into the library's tokenizer
 * as its `model`, so normalizers, pre-tokenizers and decoders stay the library's.
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

/** Results the library would cache too: pre-tokenized words repeat, and merging them is the costly part. */
const CACHE_LIMIT = 10_000;
const CACHED_LENGTH = 256;
/** Heap keys pack a merge's rank and its left position (tokenizerFile.ts keeps ranks below 2^21, so exact). */
const POSITION_SPAN = 2 ** 32;

export class CompactBpe extends Model {
  private readonly table: MergeTable;
  /** Symbols that merges name but the vocabulary lacks, numbered after the vocabulary's ids. */
  private readonly extra: string[] = [];
  private readonly extraIds: Map<string, number>;
  private readonly firstExtra: number;
  private readonly byteFallback: boolean;
  private readonly ignoreMerges: boolean;
  private readonly cache = new Map<string, string[]>();
  private readonly utf8 = new TextEncoder();

  constructor(tables: BpeTables) {
    super({ type: 'BPE', unk_token: tables.unk_token, byte_fallback: tables.byte_fallback, ignore_merges: tables.ignore_merges, fuse_unk: tables.fuse_unk, vocab: {}, merges: [] });
    const ids = new Map<string, number>();
    const vocab: string[] = [];
    const extraIds = new Map<string, number>();
    let at = 0;
    tables.lengths.forEach((length, i) => {
      const text = tables.text.slice(at, (at += length));
      if (i < tables.ids.length) {
        ids.set(text, tables.ids[i]!);
        vocab[tables.ids[i]!] = text;
      } else {
        extraIds.set(text, tables.firstExtra + this.extra.length);
        this.extra.push(text);
      }
    });
    this.tokens_to_ids = ids;
    this.vocab = vocab;
    this.extraIds = extraIds;
    this.firstExtra = tables.firstExtra;
    this.unk_token = tables.unk_token ?? undefined;
    this.unk_token_id = tables.unk_token !== null ? ids.get(tables.unk_token) : undefined;
    this.byteFallback = tables.byte_fallback;
    this.ignoreMerges = tables.ignore_merges;
    const merges = tables.merges;
    this.table = new MergeTable(merges.length / 3);
    for (let rank = 0; 3 * rank < merges.length; rank++) this.table.set(merges[3 * rank]!, merges[3 * rank + 1]!, rank, merges[3 * rank + 2]!);
  }

  private textOf(symbol: number, unknown: readonly string[]): string {
    if (symbol < 0) return unknown[-1 - symbol]!;
    return symbol < this.firstExtra ? this.vocab[symbol]! : this.extra[symbol - this.firstExtra]!;
  }

  encode(tokens: string[]): string[] {
    const out: string[] = [];
    for (const token of tokens) {
      if (this.ignoreMerges && this.tokens_to_ids.has(token)) {
        out.push(token);
        continue;
      }
      for (const piece of this.bpe(token)) this.emit(piece, out);
    }
    return out;
  }

  /** A piece the vocabulary has, else its UTF-8 bytes as `<0xXX>` tokens, else the unknown token. */
  private emit(piece: string, out: string[]): void {
    if (this.tokens_to_ids.has(piece)) {
      out.push(piece);
      return;
    }
    if (this.byteFallback) {
      const bytes = Array.from(this.utf8.encode(piece), (x) => `<0x${x.toString(16).toUpperCase().padStart(2, '0')}>`);
      if (bytes.every((x) => this.tokens_to_ids.has(x))) {
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
      const known = this.tokens_to_ids.get(chars[i]!) ?? this.extraIds.get(chars[i]!);
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
