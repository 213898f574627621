/**
 * Binds the engine to a JSON-RPC connection: each protocol request maps to an engine call, streamed
 * text goes out as `$/progress` partial results, and the request's cancellation token becomes the
 * AbortSignal the decoding loop checks between steps.
 */
import { ResponseError, type CancellationToken, type MessageConnection } from 'vscode-jsonrpc';
import { isAbortError } from '../core/errors';
import { VERSION } from '../core/version';
import * as P from '../protocol';
import { EngineLoadError, type Engine } from './engine';

export function toAbortSignal(token: CancellationToken): AbortSignal {
  const controller = new AbortController();
  if (token.isCancellationRequested) controller.abort();
  else token.onCancellationRequested(() => controller.abort());
  return controller.signal;
}

function toResponseError(err: unknown): ResponseError<P.EngineErrorData | undefined> {
  if (err instanceof ResponseError) return err;
  if (isAbortError(err)) return P.engineError(P.ErrorCodes.RequestCancelled, err instanceof Error ? err.message : 'cancelled');
  if (err instanceof EngineLoadError) return P.engineError(err.code, err.message, err.data);
  return P.engineError(P.ErrorCodes.GenerationFailed, err instanceof Error ? err.message : String(err));
}

function requireString(value: unknown, name: string): void {
  if (typeof value !== 'string') throw P.engineError(P.ErrorCodes.InvalidParams, `${name} must be a string`);
}

function validate(params: P.DecodingOptions): void {
  if (!Number.isInteger(params.maxTokens) || params.maxTokens < 1) throw P.engineError(P.ErrorCodes.InvalidParams, 'maxTokens must be a positive integer');
}

export function serve(connection: MessageConnection, engine: Engine, onShutdown: () => void): void {
  const streaming = <T extends P.DecodingOptions>(method: (params: T, signal: AbortSignal, onDelta: (text: string) => void) => Promise<P.GenerationResult>) =>
    async (params: T, token: CancellationToken) => {
      try {
        validate(params);
        let seq = 0;
        const progress = params.partialResultToken;
        const onDelta = (text: string) => {
          if (progress !== undefined) void connection.sendProgress(P.textDelta, progress, { seq: seq++, text });
        };
        return await method(params, toAbortSignal(token), onDelta);
      } catch (err) {
        throw toResponseError(err);
      }
    };

  connection.onRequest(P.initialize, async (params) => {
    if (params.protocolVersion !== P.PROTOCOL_VERSION) {
      throw P.engineError(P.ErrorCodes.InvalidParams, `protocol version ${params.protocolVersion} is not supported (engine speaks ${P.PROTOCOL_VERSION})`);
    }
    try {
      const info = await engine.load(params.modelPath, params.device);
      return {
        protocolVersion: P.PROTOCOL_VERSION,
        engineVersion: VERSION,
        capabilities: { modes: info.model.hasDraft ? ['chimera', 'ngram', 'autoregressive'] : ['ngram', 'autoregressive'], fim: info.model.hasFim, chat: true, edit: true, streaming: true, cancellation: true },
        ...info,
      } satisfies P.InitializeResult;
    } catch (err) {
      throw toResponseError(err);
    }
  });
  connection.onRequest(P.loadModel, async (params) => {
    try {
      return await engine.load(params.modelPath, params.device);
    } catch (err) {
      throw toResponseError(err);
    }
  });
  connection.onRequest(P.complete, streaming<P.CompleteParams>((p, s, d) => {
    requireString(p.prefix, 'prefix');
    requireString(p.suffix, 'suffix');
    return engine.complete(p, s, d);
  }));
  connection.onRequest(P.chat, streaming<P.ChatParams>((p, s, d) => {
    if (!Array.isArray(p.messages) || p.messages.length === 0) throw P.engineError(P.ErrorCodes.InvalidParams, 'messages must be a non-empty array');
    return engine.chat(p, s, d);
  }));
  connection.onRequest(P.edit, streaming<P.EditParams>((p, s, d) => {
    requireString(p.code, 'code');
    requireString(p.instruction, 'instruction');
    return engine.edit(p, s, d);
  }));
  connection.onRequest(P.stats, () => engine.stats());
  connection.onRequest(P.shutdown, async () => {
    engine.cancelAll('the engine is shutting down');
    await engine.unload();
    setImmediate(onShutdown);
    return null;
  });
}
