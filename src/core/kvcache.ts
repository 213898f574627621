/**
 * KV caches. One interface, two implementations, one owner each (whoever creates a cache disposes it).
 *
 * A cache holds, for each of its tensor pairs (a layer's keys and values, say), the rows of the first
 * `length` positions in sequence-major layout [1, P, H, Dh]. Models output only the *new* rows
 * ([1, T, H, Dh]); `commit` appends the rows a caller keeps, which for a verified tree is the accepted
 * path, and `truncate` rolls back by length (prompt-prefix reuse, rejected drafts).
 */
import type { Tensor } from 'onnxruntime-node';
import { loadOrt, type Session } from './session';
import { kvUpdateModel } from './onnxGraph';

export interface CacheLayout {
  /** Input names fed with the cached rows, one per tensor. */
  pastNames: readonly string[];
  /** Output names whose rows are appended, in the same order. */
  presentNames: readonly string[];
  heads: number;
  headDim: number;
  capacity: number;
}

export interface KvCache {
  readonly length: number;
  readonly capacity: number;
  /** The cached rows as model inputs. */
  pastFeeds(): Record<string, Tensor>;
  /**
   * At most the last `rows` cached rows as model inputs, and the position of the first one. A cache that
   * cannot cut a window cheaply (on a device) gives all rows from position 0.
   */
  window(rows: number): { feeds: Record<string, Tensor>; offset: number };
  /** Appends rows `keep` (indices into the new rows of `outputs`) after the first `length` positions. */
  commit(outputs: Record<string, Tensor>, keep: readonly number[]): Promise<void>;
  /** Forgets every position from `length` on. */
  truncate(length: number): Promise<void>;
  /**
   * Advances past `rows` positions without storing them (their rows are never read: callers keep their
   * windows clear of them). Returns false, skipping nothing, where a cache cannot leave rows unset.
   */
  skip(rows: number): boolean;
  dispose(): void;
}

function isPrefixRun(keep: readonly number[]): boolean {
  return keep.every((v, i) => v === i);
}

/** Rows a cache starts with; it grows as it fills (in whole GROWTH_STEP rows), up to its capacity. */
const INITIAL_ROWS = 256;
const GROWTH_STEP = 64;

/**
 * One tensor's rows. Where the runtime has resizable ArrayBuffers (V8 reserves the capacity as address
 * space and commits pages only as the buffer is resized), the rows grow in place, by whole steps, to what
 * is used: nothing is copied and no outgrown buffer waits for a collection (a 0.5B model's caches left
 * 13-25 MB of such garbage after a long prompt). Elsewhere a buffer grows by half with a copy, which keeps
 * copies amortised (a 7B model's 4k-token cache would leave 233 MB unused, instead of 467 by doubling).
 */
class RowBuffer {
  private buffer: ArrayBuffer;
  /** Over the whole buffer; a view of a resizable buffer tracks its length. */
  data: Float32Array;
  readonly inPlace: boolean;

  constructor(
    rows: number,
    private readonly rowSize: number,
    capacity: number,
    growInPlace: boolean,
  ) {
    const reserved = growInPlace ? RowBuffer.reserve(rows * rowSize * 4, capacity * rowSize * 4) : null;
    // Without resizable buffers, or address space to reserve (a ulimit, say), the buffer grows by copies.
    this.inPlace = reserved !== null;
    this.buffer = reserved ?? new ArrayBuffer(rows * rowSize * 4);
    this.data = new Float32Array(this.buffer);
  }

  /** A resizable buffer, or null where the runtime has none or refuses the reservation. */
  private static reserve(bytes: number, maxBytes: number): ArrayBuffer | null {
    try {
      const buffer = new ArrayBuffer(bytes, { maxByteLength: maxBytes });
      return buffer.resizable ? buffer : null; // an older runtime ignores the option
    } catch {
      return null;
    }
  }

  get rows(): number {
    return this.data.length / this.rowSize;
  }

  /** Grows to `rows` (in place, or by a copy of the first `used` rows). */
  grow(rows: number, used: number): void {
    if (this.inPlace) {
      this.buffer.resize(rows * this.rowSize * 4);
      return;
    }
    const next = new Float32Array(rows * this.rowSize);
    next.set(this.data.subarray(0, used * this.rowSize));
    this.buffer = next.buffer;
    this.data = next;
  }

  /** Gives the memory back now (a resizable buffer's pages at once; a plain one at the next collection). */
  release(): void {
    if (this.inPlace) this.buffer.resize(0);
    else this.data = new Float32Array(0);
  }
}

/**
 * A Float32Array per tensor; feeds are views of the prefix, so nothing is copied to run. Buffers grow as
 * positions are used, rather than being sized for the whole context up front: a 0.5B model's 32k-token
 * context would hold 0.8 GB per session whether or not a prompt ever gets long.
 */
export class CpuKvCache implements KvCache {
  private readonly buffers: RowBuffer[];
  private readonly rowSize: number;
  private used = 0;

  /** `inPlace`: grow resizable buffers in place where the runtime has them (the default), or by copies. */
  constructor(
    private readonly layout: CacheLayout,
    inPlace = true,
  ) {
    this.rowSize = layout.heads * layout.headDim;
    const rows = Math.min(layout.capacity, INITIAL_ROWS);
    this.buffers = layout.pastNames.map(() => new RowBuffer(rows, this.rowSize, layout.capacity, inPlace));
  }

  /** Rows allocated now (for memory reports and tests). */
  get allocatedRows(): number {
    return this.buffers[0]?.rows ?? 0;
  }

  private reserve(rows: number): void {
    const have = this.allocatedRows;
    if (rows <= have) return;
    const step = this.buffers[0]!.inPlace ? rows : Math.max(rows, have * 1.5);
    const grown = Math.min(this.layout.capacity, Math.ceil(step / GROWTH_STEP) * GROWTH_STEP);
    for (const buffer of this.buffers) buffer.grow(grown, this.used);
  }

  get length(): number {
    return this.used;
  }

  get capacity(): number {
    return this.layout.capacity;
  }

  pastFeeds(): Record<string, Tensor> {
    const ort = loadOrt();
    const feeds: Record<string, Tensor> = {};
    const dims = [1, this.used, this.layout.heads, this.layout.headDim];
    this.layout.pastNames.forEach((name, i) => {
      feeds[name] = new ort.Tensor('float32', this.buffers[i]!.data.subarray(0, this.used * this.rowSize), dims);
    });
    return feeds;
  }

  window(rows: number): { feeds: Record<string, Tensor>; offset: number } {
    const ort = loadOrt();
    const offset = Math.max(0, this.used - rows);
    const count = this.used - offset;
    const dims = [1, count, this.layout.heads, this.layout.headDim];
    const feeds: Record<string, Tensor> = {};
    this.layout.pastNames.forEach((name, i) => {
      feeds[name] = new ort.Tensor('float32', this.buffers[i]!.data.subarray(offset * this.rowSize, this.used * this.rowSize), dims);
    });
    return { feeds, offset };
  }

  async commit(outputs: Record<string, Tensor>, keep: readonly number[]): Promise<void> {
    if (this.used + keep.length > this.layout.capacity) {
      throw new RangeError(`KV cache full: ${this.used} + ${keep.length} rows exceed its ${this.layout.capacity} positions`);
    }
    this.reserve(this.used + keep.length);
    const row = this.rowSize;
    this.layout.presentNames.forEach((name, i) => {
      const present = outputs[name]!.data as Float32Array;
      const target = this.buffers[i]!.data;
      if (isPrefixRun(keep)) {
        target.set(present.subarray(0, keep.length * row), this.used * row);
      } else {
        keep.forEach((src, k) => target.set(present.subarray(src * row, (src + 1) * row), (this.used + k) * row));
      }
    });
    this.used += keep.length;
  }

  async truncate(length: number): Promise<void> {
    this.used = Math.max(0, Math.min(this.used, length));
  }

  skip(rows: number): boolean {
    if (this.used + rows > this.layout.capacity) throw new RangeError(`KV cache full: cannot skip ${rows} rows after ${this.used}`);
    this.reserve(this.used + rows);
    this.used += rows;
    return true;
  }

  dispose(): void {
    this.used = 0;
    for (const buffer of this.buffers) buffer.release();
  }
}

/**
 * A cache that stays on the device of its session (WebGPU or CUDA): model outputs are kept as
 * `gpu-buffer` tensors and fed back as inputs, and rollback and accepted-path compaction run in a
 * small generated graph (Slice + Gather + Concat) on the same device, so no cache row crosses the bus.
 * On the CPU execution provider the same code runs with CPU tensors, which is how it is tested here.
 */
export class DeviceKvCache implements KvCache {
  private tensors: Tensor[];
  private used = 0;

  private constructor(
    private readonly layout: CacheLayout,
    private readonly updater: Session,
  ) {
    const ort = loadOrt();
    const empty = new Float32Array(0);
    this.tensors = layout.pastNames.map(() => new ort.Tensor('float32', empty, [1, 0, layout.heads, layout.headDim]));
  }

  static async create(layout: CacheLayout, executionProvider: string): Promise<DeviceKvCache> {
    const ort = loadOrt();
    const bytes = kvUpdateModel(layout.pastNames.length, layout.heads, layout.headDim);
    const outputs = layout.pastNames.map((_, i) => `updated_${i}`);
    const onDevice = executionProvider !== 'cpu';
    const updater = await ort.InferenceSession.create(bytes, {
      executionProviders: [executionProvider],
      ...(onDevice ? { preferredOutputLocation: Object.fromEntries(outputs.map((n) => [n, 'gpu-buffer' as const])) } : {}),
    });
    return new DeviceKvCache(layout, updater);
  }

  get length(): number {
    return this.used;
  }

  get capacity(): number {
    return this.layout.capacity;
  }

  pastFeeds(): Record<string, Tensor> {
    return Object.fromEntries(this.layout.pastNames.map((name, i) => [name, this.tensors[i]!]));
  }

  window(): { feeds: Record<string, Tensor>; offset: number } {
    return { feeds: this.pastFeeds(), offset: 0 };
  }

  skip(): boolean {
    return false;
  }

  async commit(outputs: Record<string, Tensor>, keep: readonly number[]): Promise<void> {
    if (this.used + keep.length > this.layout.capacity) {
      throw new RangeError(`KV cache full: ${this.used} + ${keep.length} rows exceed its ${this.layout.capacity} positions`);
    }
    await this.update(this.layout.presentNames.map((n) => outputs[n]!), keep, this.used);
  }

  async truncate(length: number): Promise<void> {
    if (length >= this.used) return;
    const ort = loadOrt();
    const none = this.layout.pastNames.map(() => new ort.Tensor('float32', new Float32Array(0), [1, 0, this.layout.heads, this.layout.headDim]));
    await this.update(none, [], Math.max(0, length));
  }

  private async update(presents: Tensor[], keep: readonly number[], keepLength: number): Promise<void> {
    const ort = loadOrt();
    const feeds: Record<string, Tensor> = {
      keep: new ort.Tensor('int64', BigInt64Array.from(keep.map(BigInt)), [keep.length]),
      keep_length: new ort.Tensor('int64', BigInt64Array.from([BigInt(keepLength)]), [1]),
    };
    this.tensors.forEach((t, i) => {
      feeds[`past_${i}`] = t;
      feeds[`present_${i}`] = presents[i]!;
    });
    const out = await this.updater.run(feeds);
    const previous = this.tensors;
    this.tensors = this.layout.pastNames.map((_, i) => out[`updated_${i}`]!);
    for (const t of previous) if (t.location === 'gpu-buffer') t.dispose();
    this.used = keepLength + keep.length;
  }

  dispose(): void {
    for (const t of this.tensors) if (t.location === 'gpu-buffer') t.dispose();
    void this.updater.release();
  }
}
