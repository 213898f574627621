/** Errors the core raises on bad input. Each names what a user can act on. */
import type { GenerationStats } from './stats';

/** A model package defect. The message starts with the file it concerns. */
export class PackageError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'PackageError';
  }
}

/** The requested device cannot be used (for example `gpu` on a machine without a usable adapter). */
export class DeviceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeviceError';
  }
}

/** The model cannot serve this kind of request (inline completion on a model without FIM tokens, say). */
export class CapabilityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CapabilityError';
  }
}

/** Generation stopped because its AbortSignal fired. */
export class AbortError extends Error {
  constructor(
    message = 'generation was cancelled',
    /** What the decoding loop had done when it stopped, so a stopped generation's speed is not lost. */
    readonly partial?: GenerationStats,
  ) {
    super(message);
    this.name = 'AbortError';
  }
}

export function isAbortError(err: unknown): boolean {
  return err instanceof Error && err.name === 'AbortError';
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError();
}
