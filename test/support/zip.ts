/**
 * A minimal ZIP reader (a VSIX is a ZIP file): lists entries from the central directory and
 * extracts stored or deflated files. Enough for checking a package we built ourselves; it does
 * not handle ZIP64, encryption or multi-disk archives, and says so if it meets them.
 */
import { readFileSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';

export interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const CENTRAL_FILE_HEADER = 0x02014b50;
const LOCAL_FILE_HEADER = 0x04034b50;

export class ZipFile {
  readonly entries: ZipEntry[] = [];
  private readonly data: Buffer;

  constructor(path: string) {
    this.data = readFileSync(path);
    const eocd = this.findEndOfCentralDirectory();
    const count = this.data.readUInt16LE(eocd + 10);
    let offset = this.data.readUInt32LE(eocd + 16);
    if (count === 0xffff || offset === 0xffffffff) throw new Error('ZIP64 archives are not supported');
    for (let i = 0; i < count; i++) {
      if (this.data.readUInt32LE(offset) !== CENTRAL_FILE_HEADER) throw new Error(`bad central header at ${offset}`);
      const nameLength = this.data.readUInt16LE(offset + 28);
      const extraLength = this.data.readUInt16LE(offset + 30);
      const commentLength = this.data.readUInt16LE(offset + 32);
      this.entries.push({
        method: this.data.readUInt16LE(offset + 10),
        compressedSize: this.data.readUInt32LE(offset + 20),
        size: this.data.readUInt32LE(offset + 24),
        localHeaderOffset: this.data.readUInt32LE(offset + 42),
        name: this.data.toString('utf8', offset + 46, offset + 46 + nameLength),
      });
      offset += 46 + nameLength + extraLength + commentLength;
    }
  }

  get names(): string[] {
    return this.entries.map((entry) => entry.name);
  }

  read(entry: ZipEntry): Buffer {
    const offset = entry.localHeaderOffset;
    if (this.data.readUInt32LE(offset) !== LOCAL_FILE_HEADER) throw new Error(`bad local header for ${entry.name}`);
    const start = offset + 30 + this.data.readUInt16LE(offset + 26) + this.data.readUInt16LE(offset + 28);
    const raw = this.data.subarray(start, start + entry.compressedSize);
    if (entry.method === 0) return Buffer.from(raw);
    if (entry.method === 8) return inflateRawSync(raw);
    throw new Error(`unsupported compression method ${entry.method} for ${entry.name}`);
  }

  private findEndOfCentralDirectory(): number {
    // The record is at the end, followed by a comment of at most 65535 bytes.
    const lowest = Math.max(0, this.data.length - 22 - 0xffff);
    for (let offset = this.data.length - 22; offset >= lowest; offset--) {
      if (this.data.readUInt32LE(offset) === END_OF_CENTRAL_DIRECTORY) return offset;
    }
    throw new Error('not a ZIP file (no end of central directory record)');
  }
}
