/**
 * A local server with the Hugging Face Hub's URL layout, serving a model folder as a repository:
 * `/api/models/{repo}/tree/{rev}?recursive=true` lists files (LFS entries carry sha256 and size), and
 * `/{repo}/resolve/{rev}/{path}` redirects to `/cdn/...`, which honours Range requests and sends ETag and
 * X-Linked-Size. Knobs for tests: stop a response after N bytes (a dropped connection), corrupt a file,
 * or slow it down.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative } from 'node:path';

export interface FakeHub {
  url: string;
  repo: string;
  /** Requests seen, as "METHOD path range". */
  requests: string[];
  /** Cut the next response of this file after this many bytes. */
  cutAfter: Map<string, number>;
  /** Serve this file with one byte flipped (its listing keeps the real sha256). */
  corrupt: Set<string>;
  /** Milliseconds to wait between 16 KB chunks (a slow network, for cancellation tests). */
  delayMs: number;
  close(): Promise<void>;
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

export async function startFakeHub(folder: string, repo = 'test-org/tiny-coder'): Promise<FakeHub> {
  const files = new Map(walk(folder).map((f) => [relative(folder, f).split('\\').join('/'), f]));
  const state = { requests: [] as string[], cutAfter: new Map<string, number>(), corrupt: new Set<string>(), delayMs: 0 };
  const server: Server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://localhost');
    state.requests.push(`${req.method} ${u.pathname} ${req.headers.range ?? ''}`.trim());
    if (u.pathname === `/api/models/${repo}/tree/main`) {
      const listing = [...files].map(([path, full]) => {
        const size = statSync(full).size;
        const lfs = path.endsWith('.onnx') || path.endsWith('.json') && size > 4096 ? { oid: createHash('sha256').update(readFileSync(full)).digest('hex'), size } : undefined;
        return { type: 'file', path, size, ...(lfs ? { lfs } : {}) };
      });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(listing));
      return;
    }
    const resolvePrefix = `/${repo}/resolve/main/`;
    if (u.pathname.startsWith(resolvePrefix)) {
      const path = decodeURIComponent(u.pathname.slice(resolvePrefix.length));
      if (!files.has(path)) return void res.writeHead(404).end();
      res.writeHead(302, { location: `/cdn/${encodeURIComponent(path)}`, 'x-linked-size': String(statSync(files.get(path)!).size) }).end();
      return;
    }
    if (u.pathname.startsWith('/cdn/')) {
      const path = decodeURIComponent(u.pathname.slice(5));
      const full = files.get(path);
      if (!full) return void res.writeHead(404).end();
      let body = readFileSync(full);
      if (state.corrupt.has(path)) {
        body = Buffer.from(body);
        body[body.length >> 1] ^= 0xff;
      }
      const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      const start = range ? Number(range[1]) : 0;
      const headers = { etag: `"${createHash('sha256').update(body).digest('hex')}"`, 'accept-ranges': 'bytes', 'content-length': String(body.length - start) };
      res.writeHead(range ? 206 : 200, range ? { ...headers, 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` } : headers);
      const cut = state.cutAfter.get(path);
      state.cutAfter.delete(path);
      void send(res, body.subarray(start), cut, state);
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    repo,
    get requests() {
      return state.requests;
    },
    cutAfter: state.cutAfter,
    corrupt: state.corrupt,
    get delayMs() {
      return state.delayMs;
    },
    set delayMs(ms: number) {
      state.delayMs = ms;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function send(res: ServerResponse, body: Buffer, cut: number | undefined, state: { delayMs: number }): Promise<void> {
  const limit = cut ?? body.length;
  for (let at = 0; at < limit; at += 16384) {
    if (res.destroyed) return;
    res.write(body.subarray(at, Math.min(limit, at + 16384)));
    if (state.delayMs > 0) await new Promise((r) => setTimeout(r, state.delayMs));
  }
  if (cut === undefined) return void res.end();
  // Let what was written reach the client, then drop the connection mid-body.
  await new Promise((r) => setTimeout(r, 100));
  res.destroy();
}
