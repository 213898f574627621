/**
 * The engine client's lifecycle as data: its states, the transitions between them, and the errors a
 * caller sees. client.ts runs the machine; nothing else changes state.
 */
import { AbortError } from '../core/errors';
import type * as P from '../protocol';

export enum EngineState {
  Starting = 'starting',
  Ready = 'ready',
  Restarting = 'restarting',
  Failed = 'failed',
  Stopped = 'stopped',
}

/** Every state change the client may make; anything else is a bug, and throws. */
export const TRANSITIONS: Readonly<Record<EngineState, readonly EngineState[]>> = {
  [EngineState.Stopped]: [EngineState.Starting],
  [EngineState.Starting]: [EngineState.Ready, EngineState.Failed, EngineState.Stopped],
  // Ready -> Starting is a user restart: it never passes through "stopped", which would read as a failure.
  [EngineState.Ready]: [EngineState.Restarting, EngineState.Failed, EngineState.Stopped, EngineState.Starting],
  [EngineState.Restarting]: [EngineState.Ready, EngineState.Failed, EngineState.Stopped],
  [EngineState.Failed]: [EngineState.Starting, EngineState.Stopped],
};

/** The engine went away (crash, kill, protocol violation or timeout) while a request was in flight. */
export class EngineUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EngineUnavailableError';
  }
}

/** The engine answered with an error (bad model, no GPU, bad request). */
export class EngineRequestError extends Error {
  constructor(
    message: string,
    readonly code: number,
    readonly data: P.EngineErrorData | undefined,
  ) {
    super(message);
    this.name = 'EngineRequestError';
  }
}

/**
 * A generation stopped before its end, by its caller or by a newer request. It is still an AbortError;
 * `stats` covers what it produced, so an early-stopped completion still reports its speed.
 */
export class GenerationStoppedError extends AbortError {
  constructor(
    message: string,
    readonly stats: P.GenerationStats | undefined,
  ) {
    super(message);
  }
}

/** Hands a stopped generation's statistics to `report`, when it produced anything before it stopped. */
export function reportStoppedStats(err: unknown, report: (stats: P.GenerationStats) => void): void {
  if (err instanceof GenerationStoppedError && err.stats) report(err.stats);
}

/** A launch that did not reach Ready; `crash` when the process died or hung rather than refusing. */
export class LaunchFailure extends Error {
  constructor(
    readonly reason: Error,
    readonly crash: boolean,
  ) {
    super(reason.message);
  }
}
