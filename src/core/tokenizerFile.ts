/**
 * Reading tokenizer.json without keeping what parsing it costs.
 *
 * Parsing a 151k-entry tokenizer.json takes 45 MB of heap for the parsed object alone, and V8 returns the
 * pages only seconds after the object dies, by which time the model's weights are loaded on top of them:
 * the engine's peak memory grew by the parse. A worker thread parses the file instead and hands back only
 * what the tokenizer keeps (the BPE vocabulary and merges as one string and typed arrays); when the worker
 * exits, its heap goes back to the system at once.
 */
import { Worker } from 'node:worker_threads';

/** A BPE model's vocabulary and merges, compactly (CompactBpe builds its tables from them). */
export interface BpeTables {
  /** The vocabulary's entries, concatenated, then the symbols merges name that the vocabulary lacks. */
  text: string;
  /** The length of each entry in `text`, vocabulary first (`ids.length` of them), then the extra symbols. */
  lengths: Int32Array;
  /** The token id of each vocabulary entry. */
  ids: Int32Array;
  /**
   * Each merge, in rank order, as (left, right, merged) symbol numbers: a vocabulary entry's token id, or
   * for an extra symbol `firstExtra` plus its index among the extras.
   */
  merges: Int32Array;
  /** The vocabulary's largest id + 1: extra symbols are numbered from here. */
  firstExtra: number;
  unk_token: string | null;
  byte_fallback: boolean;
  ignore_merges: boolean;
  fuse_unk: boolean;
}

export interface TokenizerSummary {
  /** tokenizer.json itself, except for a BPE model's vocabulary and merges, which `bpe` holds. */
  json: Record<string, unknown>;
  bpe: BpeTables | null;
  /**
   * The most characters one token stands for: the longest vocabulary entry (TextTokenizer.maxTokenChars).
   * Byte-level entries spell one character per byte, so their length bounds the text's in UTF-16 units.
   */
  longest: number;
  /** The highest token id the tokenizer can produce (vocabulary and added tokens). */
  highest: number;
}

/**
 * The summary of a parsed tokenizer.json. It runs in a worker from its own source text, so it must not
 * refer to anything outside its body. Throws on a BPE vocabulary whose ids are not distinct integers.
 */
export function summarizeTokenizer(json: Record<string, unknown>): TokenizerSummary {
  const FALLBACK_MAX_TOKEN_CHARS = 128; // when the vocabulary cannot be read: generous for any code tokenizer
  const MAX_MERGES = 2 ** 21; // CompactBpe packs ranks below this into exact heap keys
  type Vocab = Record<string, unknown>;

  /** Token ids of a BPE vocabulary's entries, checked distinct, and the largest + 1. */
  function vocabIds(vocab: Vocab, entries: string[]): { ids: Int32Array; end: number } {
    const ids = new Int32Array(entries.length);
    const seen = new Map<number, string>();
    let end = 0;
    entries.forEach((token, i) => {
      const id = vocab[token];
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= 2 ** 31) throw new Error(`vocabulary entry ${JSON.stringify(token)} has id ${String(id)}, not a non-negative integer`);
      if (seen.has(id)) throw new Error(`vocabulary entries ${JSON.stringify(seen.get(id))} and ${JSON.stringify(token)} share id ${id}`);
      seen.set(id, token);
      ids[i] = id;
      end = Math.max(end, id + 1);
    });
    return { ids, end };
  }

  /** Each merge as (left, right, merged) symbol numbers, naming the symbols the vocabulary lacks `extras`. */
  function mergeTable(vocab: Vocab, merges: unknown[], firstExtra: number): { table: Int32Array; extras: string[] } {
    const extras: string[] = [];
    const extraIds = new Map<string, number>();
    const symbol = (text: string): number => {
      const id = vocab[text];
      if (typeof id === 'number' && Object.hasOwn(vocab, text)) return id;
      let extra = extraIds.get(text);
      if (extra === undefined) extraIds.set(text, (extra = firstExtra + extras.push(text) - 1));
      return extra;
    };
    const table = new Int32Array(merges.length * 3);
    merges.forEach((merge, rank) => {
      const [a, b] = typeof merge === 'string' ? merge.split(' ', 2) : (merge as unknown[]);
      if (typeof a !== 'string' || typeof b !== 'string') throw new Error(`merge ${rank} is not a pair of symbols: ${JSON.stringify(merge)}`);
      table.set([symbol(a), symbol(b), symbol(a + b)], 3 * rank);
    });
    return { table, extras };
  }

  const model = (json.model ?? {}) as Record<string, unknown>;
  const vocab = model.vocab as Vocab | unknown[] | undefined;
  const entries: string[] = Array.isArray(vocab) ? vocab.map((e) => (Array.isArray(e) ? e[0] : e)) : vocab && typeof vocab === 'object' ? Object.keys(vocab) : [];
  let longest = 0;
  for (const e of entries) if (typeof e === 'string' && e.length > longest) longest = e.length;
  let highest = Array.isArray(vocab) ? vocab.length - 1 : -1;
  if (vocab && !Array.isArray(vocab)) for (const id of Object.values(vocab)) if (typeof id === 'number' && id > highest) highest = id;
  for (const t of (json.added_tokens as { id?: unknown }[] | undefined) ?? []) if (typeof t.id === 'number' && t.id > highest) highest = t.id;
  const summary = { json, bpe: null as BpeTables | null, longest: longest > 0 ? longest : FALLBACK_MAX_TOKEN_CHARS, highest };

  const merges = model.merges;
  // Word suffixes rewrite symbols around merging; no code tokenizer seen uses them, so the library keeps those.
  if (model.type !== 'BPE' || !vocab || Array.isArray(vocab) || !Array.isArray(merges) || merges.length >= MAX_MERGES || model.end_of_word_suffix || model.continuing_subword_suffix) return summary;
  const { ids, end } = vocabIds(vocab, entries);
  const { table, extras } = mergeTable(vocab, merges, end);
  const all = entries.concat(extras);
  summary.bpe = {
    text: all.join(''),
    lengths: Int32Array.from(all, (e) => e.length),
    ids,
    merges: table,
    firstExtra: end,
    unk_token: typeof model.unk_token === 'string' ? model.unk_token : null,
    byte_fallback: model.byte_fallback === true,
    ignore_merges: model.ignore_merges === true,
    fuse_unk: model.fuse_unk === true,
  };
  summary.json = { ...json, model: Object.fromEntries(Object.entries(model).filter(([key]) => key !== 'vocab' && key !== 'merges')) };
  return summary;
}

/** Parses `path` in a worker thread and resolves, once the worker has exited, with its summary. */
export function readTokenizerFile(path: string): Promise<TokenizerSummary> {
  const source = `
    const { parentPort, workerData } = require('node:worker_threads');
    let reply;
    try {
      const summary = (${summarizeTokenizer.toString()})(JSON.parse(require('node:fs').readFileSync(workerData, 'utf8')));
      reply = { summary };
    } catch (err) {
      reply = { error: err instanceof Error ? err.message : String(err) };
    }
    const bpe = reply.summary && reply.summary.bpe;
    parentPort.postMessage(reply, bpe ? [bpe.lengths.buffer, bpe.ids.buffer, bpe.merges.buffer] : []);`;
  return new Promise((resolve, reject) => {
    let reply: { summary?: TokenizerSummary; error?: string } | undefined;
    const worker = new Worker(source, { eval: true, workerData: path });
    worker.once('message', (m: typeof reply) => (reply = m));
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (reply?.summary) resolve(reply.summary);
      else reject(new Error(reply?.error ?? `the tokenizer reader stopped (exit code ${code})`));
    });
  });
}
