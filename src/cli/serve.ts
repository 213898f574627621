/** `chimera serve`: arrives with the engine (OpenAI-compatible HTTP API on 127.0.0.1). */
import type { ServeArgs } from './args';

export async function runServe(_args: ServeArgs): Promise<void> {
  throw new Error("'serve' is not available yet in this build (it arrives with the engine process).");
}
