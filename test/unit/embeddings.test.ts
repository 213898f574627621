/**
 * HostEmbeddings reads a token's quantized row and block scales from a package file and dequantizes them:
 * value = (q - 2^(bits-1)) * scale, 4-bit values two to a byte, the lower nibble first (the converter's
 * quantize_blocks layout, which onnxruntime's MatMulNBits and GatherBlockQuantized read).
 */
import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostEmbeddings } from '../../src/core/embeddings';
import { PackageError } from '../../src/core/errors';
import type { Manifest } from '../../src/core/manifest';

const WIDTH = 4;
const BLOCK = 2;
const ROWS = 3;

/** A package folder holding one data file: `pad` bytes, the rows' values, then their float32 scales. */
function makePackage(bits: 4 | 8, values: number[][], scales: number[][], pad = 8) {
  const dir = mkdtempSync(join(tmpdir(), 'chimera-embed-'));
  const rowBytes = (WIDTH * bits) / 8;
  const valueBytes = new Uint8Array(ROWS * rowBytes);
  values.forEach((row, r) =>
    row.forEach((v, i) => {
      if (bits === 8) valueBytes[r * rowBytes + i] = v;
      else valueBytes[r * rowBytes + (i >> 1)]! |= v << ((i & 1) * 4);
    }),
  );
  const scaleBytes = new Uint8Array(Float32Array.from(scales.flat()).buffer);
  const valuesOffset = pad;
  const scalesOffset = pad + valueBytes.length + ((4 - ((pad + valueBytes.length) % 4)) % 4);
  const file = new Uint8Array(scalesOffset + scaleBytes.length);
  file.set(valueBytes, valuesOffset);
  file.set(scaleBytes, scalesOffset);
  writeFileSync(join(dir, 'target.onnx.data'), file);
  const manifest = {
    model: { vocab_size: ROWS, d_model: WIDTH },
    files: { tokenizer: { path: 'tokenizer.json' }, target: { path: 'target.onnx' }, target_data: { path: 'target.onnx.data' } },
    quantization: { bits, block_size: BLOCK, embedding_lookup: { file: 'target.onnx.data', values_offset: valuesOffset, scales_offset: scalesOffset } },
  } as unknown as Manifest;
  return { dir, manifest, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

describe('embeddings looked up by the engine', () => {
  it('dequantizes 8-bit rows around the zero point 128, one scale per block', () => {
    const values = [
      [128, 129, 127, 255],
      [0, 128, 200, 100],
      [1, 2, 3, 4],
    ];
    const scales = [
      [0.5, 0.25],
      [1, 2],
      [0.125, 4],
    ];
    const { dir, manifest, cleanup } = makePackage(8, values, scales);
    try {
      const e = HostEmbeddings.open(dir, manifest)!;
      assert.deepEqual(Array.from(e.lookup([0, 1])), [0, 0.5, -0.25, 127 * 0.25, -128, 0, 144, -56]);
      assert.deepEqual(Array.from(e.lookup([2])), [-127 * 0.125, -126 * 0.125, -125 * 4, -124 * 4]);
      assert.throws(() => e.lookup([3]), /token id 3 is outside the vocabulary \(3\)/);
      e.close();
    } finally {
      cleanup();
    }
  });

  it('reads 4-bit rows two values a byte, the lower nibble first, around the zero point 8', () => {
    const values = [
      [8, 9, 0, 15],
      [1, 2, 3, 4],
      [15, 14, 13, 12],
    ];
    const scales = [
      [1, 0.5],
      [2, 1],
      [1, 1],
    ];
    const { dir, manifest, cleanup } = makePackage(4, values, scales);
    try {
      const e = HostEmbeddings.open(dir, manifest)!;
      assert.deepEqual(Array.from(e.lookup([0, 2, 1])), [0, 1, -4, 3.5, 7, 6, 5, 4, -14, -12, -5, -4]);
      e.close();
    } finally {
      cleanup();
    }
  });

  it('names the field when the table would run past the end of its file', () => {
    const { dir, manifest, cleanup } = makePackage(8, [[], [], []], [[1, 1], [1, 1], [1, 1]]);
    try {
      manifest.quantization!.embedding_lookup!.scales_offset += 4;
      assert.throws(
        () => HostEmbeddings.open(dir, manifest),
        (err: unknown) => err instanceof PackageError && /quantization\.embedding_lookup\.scales_offset" puts the table past the end of target\.onnx\.data/.test(err.message),
      );
      manifest.quantization!.embedding_lookup!.file = 'tokenizer.json';
      assert.throws(() => HostEmbeddings.open(dir, manifest), /embedding_lookup\.file" \("tokenizer\.json"\) must be one of the package's weight files/);
    } finally {
      cleanup();
    }
  });

  it('is absent for a package whose graph looks embeddings up itself', () => {
    const { dir, manifest, cleanup } = makePackage(8, [[], [], []], [[1, 1], [1, 1], [1, 1]]);
    try {
      delete manifest.quantization!.embedding_lookup;
      assert.equal(HostEmbeddings.open(dir, manifest), null);
    } finally {
      cleanup();
    }
  });
});
