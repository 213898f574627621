/** Running a DecodingSession to the end in tests: the streamed deltas and the final result. */
import type { DecodingSession, GenerateRequest, GenerationResult } from '../../src/core/decoder';

export async function collect(session: DecodingSession, req: GenerateRequest): Promise<{ deltas: string[]; result: GenerationResult }> {
  const deltas: string[] = [];
  const stream = session.generate(req);
  for (;;) {
    const next = await stream.next();
    if (next.done) return { deltas, result: next.value };
    deltas.push(next.value);
  }
}
