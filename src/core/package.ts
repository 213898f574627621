/**
 * Loads a model package folder: the manifest, then every listed file checked against its sha256.
 * The ONNX graphs' input/output names are checked against the manifest once sessions exist
 * (see checkSessionNames), since reading them needs onnxruntime.
 */
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { PackageError } from './errors';
import { sha256File } from './fileHash';
import { detectStandard, loadStandardPackage, type StandardLayout } from './formats/standard';
import { INCOMPLETE_MARKER } from './hub';
import { MANIFEST_FILE, parseManifest, type FileEntry, type Manifest } from './manifest';
import { sameStamp, stampFrom, stampOf, type VerifiedStore } from './verified';

export interface ModelPackage {
  dir: string;
  manifest: Manifest;
  tokenizerPath: string;
  targetPath: string;
  draftPath: string | null;
  /** Set for a standard ONNX export read without a chimera.json (formats/standard.ts). */
  layout?: StandardLayout;
}

async function checkFile(dir: string, role: string, entry: FileEntry, verified: VerifiedStore | null): Promise<string> {
  const path = join(dir, entry.path);
  // The manifest validator refuses absolute and ".." paths; this holds even if a rule were missed there.
  if (relative(dir, path).startsWith('..') || isAbsolute(relative(dir, path))) throw new PackageError(join(dir, MANIFEST_FILE), `files.${role}.path leaves the package folder`);
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new PackageError(path, `missing (${role} file listed in ${MANIFEST_FILE})`);
  }
  if (!info.isFile()) throw new PackageError(path, `not a file (${role} file listed in ${MANIFEST_FILE})`);
  if (entry.bytes !== undefined && info.size !== entry.bytes) throw new PackageError(path, `is ${info.size} bytes, the manifest says ${entry.bytes} (truncated or replaced)`);
  const before = verified ? stampFrom(info) : null;
  if (before && (await verified!.lookup(path, before)) === entry.sha256) return path;
  const digest = await sha256File(path);
  if (digest !== entry.sha256) {
    throw new PackageError(path, `sha256 mismatch: the manifest says ${entry.sha256.slice(0, 12)}…, the file is ${digest.slice(0, 12)}… (corrupt or replaced)`);
  }
  // Recorded only if the file did not change while it was read.
  if (before && sameStamp(before, await stampOf(path))) await verified!.record(path, before, digest);
  return path;
}

export interface PackageOptions {
  /** Files that hashed right before and have not changed since are not hashed again (verified.ts). */
  verified?: VerifiedStore | null;
}

export async function loadPackage(folder: string, options: PackageOptions = {}): Promise<ModelPackage> {
  const verified = options.verified ?? null;
  const dir = resolve(folder);
  if (await stat(join(dir, INCOMPLETE_MARKER)).then(() => true, () => false)) {
    throw new PackageError(dir, 'the download of this model is incomplete; run Chimera: Download Model… again to finish it');
  }
  const manifestPath = join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(manifestPath, 'utf8');
  } catch {
    const exists = await stat(dir).then(
      (s) => s.isDirectory(),
      () => false,
    );
    if (!exists) throw new PackageError(dir, 'model package folder not found');
    const standard = await detectStandard(dir);
    if (standard) return loadStandardPackage(dir, standard);
    throw new PackageError(manifestPath, `missing; a model folder needs a ${MANIFEST_FILE} manifest (a Chimera package), or config.json and onnx/model.onnx (an Optimum export), or genai_config.json (an onnxruntime-genai export)`);
  }
  const manifest = parseManifest(text, manifestPath);
  const [tokenizerPath, targetPath, draftPath] = await Promise.all([
    checkFile(dir, 'tokenizer', manifest.files.tokenizer, verified),
    checkFile(dir, 'target', manifest.files.target, verified),
    manifest.draft && manifest.files.draft ? checkFile(dir, 'draft', manifest.files.draft, verified) : Promise.resolve(null),
    // Any other listed file, such as the external weights of a large converted model (target.onnx.data)
    ...Object.entries(manifest.files)
      .filter(([role]) => !['tokenizer', 'target', 'draft'].includes(role))
      .map(([role, entry]) => checkFile(dir, role, entry!, verified)),
  ]);
  return { dir, manifest, tokenizerPath, targetPath, draftPath };
}

/** Compares a session's input and output names with the manifest's `io` section. */
export function checkSessionNames(path: string, expected: { inputs: string[]; outputs: string[] }, actual: { inputNames: readonly string[]; outputNames: readonly string[] }): void {
  for (const kind of ['inputs', 'outputs'] as const) {
    const got = kind === 'inputs' ? actual.inputNames : actual.outputNames;
    const missing = expected[kind].filter((n) => !got.includes(n));
    const extra = got.filter((n) => !expected[kind].includes(n));
    if (missing.length > 0 || extra.length > 0) {
      throw new PackageError(path, `${kind} disagree with ${MANIFEST_FILE}: missing [${missing.join(', ')}], unexpected [${extra.join(', ')}]`);
    }
  }
}
