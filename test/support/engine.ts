/** Starting EngineClients against the real engine bundle or the fake one, with logs kept for asserts. */
import { join } from 'node:path';
import { EngineClient, type EngineClientOptions } from '../../src/engine/client';
import type { DeviceSetting } from '../../src/protocol';
import { memoryLog } from './models';
import { repoRoot } from './paths';

export const realEngine = join(repoRoot, 'dist/engine.js');
export const fakeEngine = join(repoRoot, 'test/fixtures/fake-engine/engine.js');

export function makeClient(options: Partial<EngineClientOptions> & { modelPath?: string; device?: DeviceSetting } = {}) {
  const { log, lines } = memoryLog();
  const client = new EngineClient({
    enginePath: realEngine,
    initParams: () => ({ protocolVersion: 1, modelPath: options.modelPath ?? '', device: options.device ?? 'cpu', clientName: 'tests' }),
    log,
    ...options,
  });
  return { client, lines };
}

/** Resolves when the client reaches `state` (or rejects after `ms`). */
export function waitForState(client: EngineClient, state: string, ms = 20_000): Promise<void> {
  if (client.state === state) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`client stayed ${client.state}, expected ${state}`)), ms);
    const sub = client.onStateChange((s) => {
      if (s === state) {
        clearTimeout(timer);
        sub.dispose();
        resolve();
      }
    });
  });
}
