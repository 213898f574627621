/**
 * Binds the engine to a JSON-RPC connection: each protocol request maps to an engine call, streamed
 * text goes out as `$/progress` partial results, and the request's cancellation token becomes the
 * AbortSignal the decoding loop checks between steps.
 */
import { ResponseError, type CancellationToken, type MessageConnection } from 'vscode-jsonrpc';
import { isAbortError, type AbortError } from '../core/errors';
import { VERSION } from '../core/version';
import * as P from '../protocol';
import * as V from '../protocol/validate';
import { EngineLoadError, publicStats, type Engine } from './engine';

export function toAbortSignal(token: CancellationToken): AbortSignal {
  const controller = new AbortController();
  if (token.isCancellationRequested) controller.abort();
  else token.onCancellationRequested(() => controller.abort());
  return controller.signal;
}

function toResponseError(err: unknown): ResponseError<P.EngineErrorData | undefined> {
  if (err instanceof ResponseError) return err;
  if (err instanceof V.ParamError) return P.engineError(P.ErrorCodes.InvalidParams, `invalid params: ${err.message}`);
  if (isAbortError(err)) return P.engineError(P.ErrorCodes.RequestCancelled, err instanceof Error ? err.message : 'cancelled', stoppedData(err as AbortError));
  if (err instanceof EngineLoadError) return P.engineError(err.code, err.message, err.data);
  return P.engineError(P.ErrorCodes.GenerationFailed, err instanceof Error ? err.message : String(err));
}

/** A stopped generation's answer says what it had produced, so the client can still show its speed. */
function stoppedData(err: AbortError): P.EngineErrorData | undefined {
  const s = err.partial;
  return s && s.generatedTokens > 0 ? { stats: publicStats(s) } : undefined;
}

/** Runs a handler, answering every failure (bad params included) as the protocol's error. */
async function answer<R>(work: () => Promise<R> | R): Promise<R> {
  try {
    return await work();
  } catch (err) {
    throw toResponseError(err);
  }
}

export function serve(connection: MessageConnection, engine: Engine, onShutdown: () => void): void {
  /** A generating request: checked by the shared validator, streamed as `$/progress`, cancelled by its token. */
  const streaming = <T extends P.DecodingOptions>(check: (raw: unknown) => T, method: (params: T, signal: AbortSignal, onDelta: (text: string) => void) => Promise<P.GenerationResult>) =>
    (raw: unknown, token: CancellationToken) =>
      answer(() => {
        const params = check(raw);
        let seq = 0;
        const progress = params.partialResultToken;
        const onDelta = (text: string) => {
          if (progress !== undefined) void connection.sendProgress(P.textDelta, progress, { seq: seq++, text });
        };
        return method(params, toAbortSignal(token), onDelta);
      });

  connection.onRequest(P.initialize, (raw) =>
    answer(async () => {
      const params = V.initializeParams(raw);
      if (params.protocolVersion !== P.PROTOCOL_VERSION) {
        throw P.engineError(P.ErrorCodes.InvalidParams, `protocol version ${params.protocolVersion} is not supported (engine speaks ${P.PROTOCOL_VERSION})`);
      }
      const info = await engine.load(params.modelPath, params.device, params.maxContext, { allowSoftwareGpu: params.allowSoftwareGpu });
      return {
        protocolVersion: P.PROTOCOL_VERSION,
        engineVersion: VERSION,
        capabilities: { modes: info.model.hasDraft ? ['chimera', 'ngram', 'autoregressive'] : ['ngram', 'autoregressive'], fim: info.model.hasFim, chat: true, edit: true, streaming: true, cancellation: true },
        ...info,
      } satisfies P.InitializeResult;
    }),
  );
  connection.onRequest(P.loadModel, (raw) =>
    answer(() => {
      const params = V.loadModelParams(raw);
      return engine.load(params.modelPath, params.device, params.maxContext, { allowSoftwareGpu: params.allowSoftwareGpu });
    }),
  );
  connection.onRequest(P.diagnose, (raw) => answer(() => engine.diagnose(V.diagnoseParams(raw))));
  connection.onRequest(P.complete, streaming(V.completeParams, (p, s, d) => engine.complete(p, s, d)));
  connection.onRequest(P.chat, streaming(V.chatParams, (p, s, d) => engine.chat(p, s, d)));
  connection.onRequest(P.edit, streaming(V.editParams, (p, s, d) => engine.edit(p, s, d)));
  connection.onRequest(P.stats, () => engine.stats());
  connection.onRequest(P.shutdown, async () => {
    engine.cancelAll('the engine is shutting down');
    await engine.unload();
    setImmediate(onShutdown);
    return null;
  });
}
