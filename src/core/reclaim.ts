/**
 * Collecting the output arrays of finished steps before they pile up.
 *
 * onnxruntime-node returns every output in a fresh array (preallocated outputs are written and then
 * copied), so each step leaves its logits behind: 0.6 MB for one row of a 151k vocabulary, 9.7 MB for a
 * 16-node tree. V8 collects such arrays only once 64 MB of external memory has built up, and that much
 * garbage sat in the engine's peak memory. A minor collection after every few megabytes of outputs frees
 * them for about 0.4 ms each: on the 0.5B int8 package, one every 27 decode steps.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Session } from './session';

export type Collector = () => void;

/** Output bytes between two collections. */
const COLLECT_EVERY_BYTES = 16 * 2 ** 20;

/** The process's collector, made once (undefined: not asked for yet). */
let cached: Collector | null | undefined;

/**
 * A minor garbage collection on demand, or null where this V8 will not expose one. It sets V8's
 * `expose-gc` flag for contexts made from now on and takes `gc` from a fresh one: a process-wide choice,
 * so the engine's and the CLI's entry points make it, not the core.
 */
export function minorCollector(): Collector | null {
  if (cached === undefined) cached = exposeMinorGc();
  return cached;
}

function exposeMinorGc(): Collector | null {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    if (typeof gc !== 'function') return null;
    return () => (gc as (options: { type: string }) => void)({ type: 'minor' });
  } catch {
    return null;
  }
}

/** Counts output bytes and collects, at the start of a run, once enough have gone by since the last time. */
export class OutputReclaimer {
  private pending = 0;

  constructor(
    private readonly collect: Collector,
    private readonly everyBytes = COLLECT_EVERY_BYTES,
  ) {}

  /** Before a run: the previous steps' outputs are garbage by now, so a collection frees them. */
  beforeRun(): void {
    if (this.pending < this.everyBytes) return;
    this.pending = 0;
    this.collect();
  }

  afterRun(outputs: Record<string, { location?: string; data?: unknown }>): void {
    for (const value of Object.values(outputs)) {
      // Outputs kept on a GPU (the KV cache on WebGPU) have no array here, and reading `data` would throw.
      if (value.location !== undefined && value.location !== 'cpu') continue;
      const data = value.data;
      if (ArrayBuffer.isView(data)) this.pending += data.byteLength;
    }
  }
}

/** Makes `session.run` count its outputs and collect the earlier ones now and then (see the file comment). */
export function reclaimOutputs(session: Session, collect: Collector, everyBytes = COLLECT_EVERY_BYTES): void {
  const reclaimer = new OutputReclaimer(collect, everyBytes);
  const run = session.run.bind(session) as (...args: unknown[]) => ReturnType<Session['run']>;
  session.run = (async (...args: unknown[]) => {
    reclaimer.beforeRun();
    const outputs = await run(...args);
    reclaimer.afterRun(outputs);
    return outputs;
  }) as Session['run'];
}
