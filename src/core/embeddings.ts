/**
 * Token embeddings looked up by the engine rather than the graph, for quantized packages whose target
 * takes `inputs_embeds` (the converter's choice for external data: training/chimera_train/lookup.py).
 *
 * Each token's row of the quantized table and its block scales are read with pread from the package's
 * data file, the same bytes the tied LM head multiplies by, and dequantized here. Looked up inside the
 * graph, the table was memory-mapped and every row pulled its neighbourhood into the process's resident
 * memory (58 MB for a few hundred tokens of a 0.5B model, growing toward the whole 136 MB table); read
 * this way, rows stay in the shared, reclaimable page cache. A row is one read of a few hundred bytes:
 * a 256-token prompt chunk costs about a millisecond.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { PackageError } from './errors';
import { MANIFEST_FILE, type Manifest } from './manifest';

export const HOST_LOOKUP_INPUT = 'inputs_embeds';

export interface EmbeddingLookup {
  /** A file of the package, relative to its folder (one of `files`). */
  file: string;
  values_offset: number;
  scales_offset: number;
}

interface Layout {
  bits: 4 | 8;
  block: number;
  blocks: number;
  width: number;
  rows: number;
  rowBytes: number;
}

/** The lookup the manifest describes, checked field by field; null when the package has none. */
export function embeddingLookup(manifest: Manifest, file: string): { spec: EmbeddingLookup; layout: Layout } | null {
  const q = manifest.quantization;
  const spec = q?.embedding_lookup;
  if (spec === undefined) return null;
  const bad = (field: string, why: string) => new PackageError(file, `field "quantization.${field}" ${why}`);
  if (q!.bits !== 4 && q!.bits !== 8) throw bad('bits', 'must be 4 or 8 where embedding_lookup is given');
  if (!Number.isInteger(q!.block_size) || q!.block_size! < 1 || q!.block_size! > 4096) throw bad('block_size', 'must be a whole number from 1 to 4096');
  if (typeof spec !== 'object' || spec === null) throw bad('embedding_lookup', 'must be an object');
  if (!Object.values(manifest.files).some((f) => f?.path === spec.file) || spec.file === manifest.files.tokenizer.path) {
    throw bad('embedding_lookup.file', `(${JSON.stringify(spec.file)}) must be one of the package's weight files`);
  }
  for (const key of ['values_offset', 'scales_offset'] as const) {
    if (!Number.isSafeInteger(spec[key]) || spec[key] < 0) throw bad(`embedding_lookup.${key}`, 'must be a whole number of bytes, 0 or more');
  }
  const width = manifest.model.d_model;
  const block = q!.block_size!;
  const blocks = Math.ceil(width / block);
  return { spec, layout: { bits: q!.bits as 4 | 8, block, blocks, width, rows: manifest.model.vocab_size, rowBytes: (blocks * block * q!.bits!) / 8 } };
}

export class HostEmbeddings {
  private readonly values: Uint8Array;
  private readonly scales: Float32Array;

  private constructor(
    private readonly fd: number,
    private readonly spec: EmbeddingLookup,
    private readonly layout: Layout,
  ) {
    this.values = new Uint8Array(layout.rowBytes);
    this.scales = new Float32Array(layout.blocks);
  }

  /** Opens the package's lookup, or returns null when its target looks embeddings up itself. */
  static open(dir: string, manifest: Manifest): HostEmbeddings | null {
    const manifestPath = join(dir, MANIFEST_FILE);
    const found = embeddingLookup(manifest, manifestPath);
    if (found === null) return null;
    const { spec, layout } = found;
    const path = join(dir, spec.file);
    const fd = openSync(path, 'r');
    try {
      const size = fstatSync(fd).size;
      const ends = { values_offset: spec.values_offset + layout.rows * layout.rowBytes, scales_offset: spec.scales_offset + layout.rows * layout.blocks * 4 };
      for (const [key, end] of Object.entries(ends)) {
        if (end > size) throw new PackageError(manifestPath, `field "quantization.embedding_lookup.${key}" puts the table past the end of ${spec.file} (${end} > ${size} bytes)`);
      }
      if (spec.scales_offset % 4 !== 0) throw new PackageError(manifestPath, 'field "quantization.embedding_lookup.scales_offset" must be a multiple of 4 (float32 scales)');
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    return new HostEmbeddings(fd, spec, layout);
  }

  get width(): number {
    return this.layout.width;
  }

  /** [tokens.length * width] float32 embeddings: (q - 2^(bits-1)) * scale, per block. */
  lookup(tokens: readonly number[]): Float32Array {
    const { width, rows, rowBytes, blocks, block, bits } = this.layout;
    const out = new Float32Array(tokens.length * width);
    const scaleBytes = new Uint8Array(this.scales.buffer);
    const zero = 1 << (bits - 1);
    tokens.forEach((id, t) => {
      if (!Number.isInteger(id) || id < 0 || id >= rows) throw new RangeError(`token id ${id} is outside the vocabulary (${rows})`);
      readSync(this.fd, this.values, 0, rowBytes, this.spec.values_offset + id * rowBytes);
      readSync(this.fd, scaleBytes, 0, blocks * 4, this.spec.scales_offset + id * blocks * 4);
      const base = t * width;
      for (let i = 0; i < width; i++) {
        const q = bits === 8 ? this.values[i]! : (this.values[i >> 1]! >> ((i & 1) * 4)) & 15;
        out[base + i] = (q - zero) * this.scales[Math.floor(i / block)]!;
      }
    });
    return out;
  }

  close(): void {
    closeSync(this.fd);
  }
}
