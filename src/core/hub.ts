/**
 * Downloads model files from a Hugging Face Hub (or a mirror with its URL layout), only when a person asks.
 *
 * - Files come from `{hub}/{repo}/resolve/{revision}/{path}` (redirects followed), listed by
 *   `{hub}/api/models/{repo}/tree/{revision}?recursive=true`.
 * - Each file is written as `<name>.part` and renamed only once its size and, for large (LFS) files, its
 *   sha256 match what the Hub says (`X-Linked-Size`, `X-Linked-Etag` on the resolve URL, or the listing's
 *   `lfs` entry); a `.part` file left by a cancelled or failed run is resumed with a Range request.
 * - Free disk space is checked before anything is written, and the folder carries a marker file until
 *   every file is complete, so the engine never loads a partial download.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { dirname, join, normalize, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { hashFileInto } from './fileHash';

export const DEFAULT_HUB = 'https://huggingface.co';
/** Present while a download into the folder is incomplete; the engine refuses such a folder. */
export const INCOMPLETE_MARKER = '.chimera-download-incomplete';

export interface HubFile {
  path: string;
  size: number;
  /** sha256 of the content for files the Hub stores in LFS (weights); null for small git files. */
  sha256: string | null;
}

export interface DownloadProgress {
  file: string;
  /** Bytes of all requested files on disk so far, and in all. */
  done: number;
  total: number;
}

export class HubError extends Error {
  constructor(
    message: string,
    readonly kind: 'network' | 'not-found' | 'integrity' | 'disk' | 'cancelled',
  ) {
    super(message);
    this.name = 'HubError';
  }
}

const REPO = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;

function url(hub: string, ...parts: string[]): string {
  return `${hub.replace(/\/+$/, '')}/${parts.map((p) => p.split('/').map(encodeURIComponent).join('/')).join('/')}`;
}

async function fetchOk(target: string, init: RequestInit, what: string): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(target, init);
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw new HubError('the download was cancelled', 'cancelled');
    throw new HubError(`cannot reach ${new URL(target).host} for ${what} (${(err as Error).message})`, 'network');
  }
  if (res.status === 404 || res.status === 401) throw new HubError(`${what}: not found (HTTP ${res.status}; a private or misspelled repository?)`, 'not-found');
  if (!res.ok && res.status !== 206) throw new HubError(`${what}: HTTP ${res.status} from ${new URL(target).host}`, 'network');
  return res;
}

/** The repository's files (recursive listing), with sizes and LFS hashes. */
export async function listFiles(hub: string, repo: string, revision = 'main', signal?: AbortSignal): Promise<HubFile[]> {
  if (!REPO.test(repo)) throw new HubError(`"${repo}" is not a repository ID (organisation/name)`, 'not-found');
  const res = await fetchOk(`${url(hub, 'api', 'models', repo, 'tree', revision)}?recursive=true`, { signal }, `the file list of ${repo}`);
  const entries = (await res.json()) as { type?: string; path?: string; size?: number; lfs?: { oid?: string; sha256?: string; size?: number } }[];
  return entries
    .filter((e) => e.type === 'file' && typeof e.path === 'string')
    .map((e) => ({ path: e.path!, size: e.lfs?.size ?? e.size ?? 0, sha256: e.lfs?.oid ?? e.lfs?.sha256 ?? null }));
}

/** What a model folder needs besides its graphs: the configuration and tokenizer files. */
export function supportFiles(files: readonly HubFile[]): HubFile[] {
  const wanted = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'genai_config.json', 'chimera.json'];
  return files.filter((f) => wanted.includes(f.path));
}

/** ONNX graphs of the repository with their external data files, by the graph's path (a precision choice). */
export function graphChoices(files: readonly HubFile[]): Map<string, HubFile[]> {
  const out = new Map<string, HubFile[]>();
  for (const f of files.filter((x) => x.path.endsWith('.onnx'))) {
    out.set(f.path, [f, ...files.filter((x) => x.path.startsWith(`${f.path}_data`) || x.path.startsWith(`${f.path}.data`))]);
  }
  return out;
}

function localPath(dest: string, path: string): string {
  const full = normalize(join(dest, path));
  if (!full.startsWith(normalize(dest) + sep)) throw new HubError(`refusing a file path that leaves the model folder: ${path}`, 'integrity');
  return full;
}

async function sizeOf(path: string): Promise<number> {
  return stat(path).then((s) => s.size, () => 0);
}

export interface DownloadOptions {
  hub: string;
  repo: string;
  revision?: string;
  files: readonly HubFile[];
  dest: string;
  signal?: AbortSignal;
  onProgress?: (p: DownloadProgress) => void;
  /** Free bytes on the destination's disk (tests simulate a full disk). */
  freeBytes?: (dir: string) => Promise<number>;
}

async function defaultFreeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

/** Downloads `files` into `dest`, resuming `.part` files; returns the folder once every file checks out. */
export async function downloadFiles(o: DownloadOptions): Promise<string> {
  await mkdir(o.dest, { recursive: true });
  const total = o.files.reduce((n, f) => n + f.size, 0);
  let present = 0;
  for (const f of o.files) {
    const final = localPath(o.dest, f.path);
    present += (await sizeOf(final)) === f.size && f.size > 0 ? f.size : Math.min(f.size, await sizeOf(`${final}.part`));
  }
  const free = await (o.freeBytes ?? defaultFreeBytes)(o.dest);
  const needed = total - present;
  if (free < needed * 1.05 + 64 * 2 ** 20) {
    throw new HubError(`not enough disk space in ${o.dest}: the download needs ${gb(needed)} and ${gb(free)} is free`, 'disk');
  }
  await writeFile(join(o.dest, INCOMPLETE_MARKER), `${o.repo}@${o.revision ?? 'main'}\n`);
  let done = present;
  for (const f of o.files) {
    done = await downloadOne(o, f, done, total);
  }
  await rm(join(o.dest, INCOMPLETE_MARKER), { force: true });
  return o.dest;
}

async function downloadOne(o: DownloadOptions, f: HubFile, doneBefore: number, total: number): Promise<number> {
  const final = localPath(o.dest, f.path);
  if ((await sizeOf(final)) === f.size && f.size > 0) return doneBefore;
  await mkdir(dirname(final), { recursive: true });
  const part = `${final}.part`;
  let have = await sizeOf(part);
  const counted = Math.min(have, f.size); // what downloadFiles counted as present for this file
  if (have > f.size) {
    await rm(part);
    have = 0;
  }
  let done = doneBefore;
  let hash: ReturnType<typeof createHash>;
  if (have > 0 && have === f.size) {
    hash = await hashFileInto(createHash('sha256'), part); // complete but not yet checked (a run stopped right before the rename)
  } else {
    const res = await fetchOk(url(o.hub, o.repo, 'resolve', o.revision ?? 'main', f.path), { headers: have > 0 ? { Range: `bytes=${have}-` } : {}, signal: o.signal, redirect: 'follow' }, f.path);
    if (have > 0 && res.status !== 206) {
      done -= have; // the server ignored the range: the file starts over
      have = 0;
    }
    hash = have > 0 ? await hashFileInto(createHash('sha256'), part) : createHash('sha256');
    try {
      await pipeline(
        Readable.fromWeb(res.body as never),
        async function* (source) {
          for await (const chunk of source) {
            hash.update(chunk as Buffer);
            done += (chunk as Buffer).length;
            o.onProgress?.({ file: f.path, done: Math.min(done, total), total });
            yield chunk;
          }
        },
        createWriteStream(part, { flags: have > 0 ? 'a' : 'w' }),
      );
    } catch (err) {
      if (o.signal?.aborted) throw new HubError('the download was cancelled; run it again to resume', 'cancelled');
      throw new HubError(`${f.path}: the connection broke (${(err as Error).message}); run it again to resume`, 'network');
    }
  }
  await verify(part, f, hash);
  await rename(part, final);
  return doneBefore - counted + f.size;
}

async function verify(part: string, f: HubFile, hash: ReturnType<typeof createHash>): Promise<void> {
  const size = await sizeOf(part);
  if (f.size > 0 && size !== f.size) throw new HubError(`${f.path}: got ${size} bytes, the Hub lists ${f.size}; run it again to resume`, 'integrity');
  if (f.sha256 === null) return;
  const digest = hash.digest('hex');
  if (digest !== f.sha256) {
    await rm(part, { force: true });
    throw new HubError(`${f.path}: sha256 ${digest.slice(0, 12)}… does not match the Hub's ${f.sha256.slice(0, 12)}…; the partial file was removed`, 'integrity');
  }
}

function gb(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(2)} GB` : `${Math.ceil(bytes / 2 ** 20)} MB`;
}
