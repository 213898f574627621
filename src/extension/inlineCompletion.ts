/**
 * Inline (ghost text) completions: fill-in-the-middle at the cursor from the backend in use (the local
 * engine or a shared server; this file cannot tell which). VS Code's cancellation token becomes the
 * request's AbortSignal (it is cancelled when the user types on, and on a shared server that closes the
 * HTTP request), the backend lets the newest completion win, a cache answers repeats and typing-through, and the
 * wait before asking adapts to the user's typing and the engine's speed.
 */
import * as vscode from 'vscode';
import { SuggestionCache } from '../core/inline/cache';
import { completionContext, skipReason } from '../core/inline/context';
import { AdaptiveDebounce, wait } from '../core/inline/debounce';
import type { SyntaxChecker } from '../core/inline/syntax';
import { collectSuggestion } from '../core/inline/trim';
import type { Backend } from '../backend/backend';
import type { GenerationStats } from '../protocol';
import { reportStoppedStats } from '../engine/client';
import type { CrossFileContext } from './inlineContext';
import { readSettings } from './settings';

/** URI schemes of real documents; output panels, diffs of git objects etc. get no suggestions. */
const SCHEMES = new Set(['file', 'untitled', 'vscode-remote', 'vscode-vfs', 'vscode-userdata']);

export interface InlineLatencyLog {
  /** Time from the end of the debounce to items returned, for the latency report (kept in memory only). */
  latenciesMs: number[];
  last: GenerationStats | null;
}

export class InlineCompletionProvider implements vscode.InlineCompletionItemProvider, vscode.Disposable {
  private readonly cache = new SuggestionCache();
  private readonly provided = new vscode.EventEmitter<string>();
  /** Fires with each suggestion handed to VS Code (tests wait on it instead of sleeping). */
  readonly onDidProvide = this.provided.event;
  private readonly debounce: AdaptiveDebounce;
  readonly stats: InlineLatencyLog = { latenciesMs: [], last: null };

  constructor(
    private readonly backends: { ready(): Promise<Backend>; readonly model: Backend['model'] },
    private readonly log: vscode.LogOutputChannel,
    private readonly onResult: (stats: GenerationStats) => void,
    private readonly crossFile: CrossFileContext,
    private readonly syntax: SyntaxChecker,
  ) {
    this.debounce = new AdaptiveDebounce(readSettings(log).inline.debounceMs);
  }

  async provideInlineCompletionItems(document: vscode.TextDocument, position: vscode.Position, context: vscode.InlineCompletionContext, token: vscode.CancellationToken): Promise<vscode.InlineCompletionItem[] | undefined> {
    const settings = readSettings(this.log);
    if (!settings.inline.enabled || !SCHEMES.has(document.uri.scheme)) return undefined;
    // A model without fill-in-the-middle cannot complete inline; the status bar tooltip says which model.
    if (this.backends.model?.hasFim === false) return undefined;
    const text = document.getText();
    if (skipReason(text) !== null) return undefined;
    const ctx = completionContext(text, document.offsetAt(position));
    const key = document.uri.toString();
    const cached = this.cache.get(key, ctx.prefix, ctx.suffix);
    if (cached !== undefined) return this.items(cached, position);

    const signal = toAbortSignal(token);
    this.debounce.setBase(settings.inline.debounceMs);
    // An explicit request (Alt+\) skips the pause; typing waits for one.
    const delay = context.triggerKind === vscode.InlineCompletionTriggerKind.Invoke ? 0 : this.debounce.delayFor(Date.now());
    if (!(await wait(delay, signal))) return undefined;

    const started = performance.now();
    // The grammar loads while the engine generates (tens of milliseconds, once per language).
    this.syntax.warm(document.languageId).catch(() => undefined);
    // Generation stops as soon as trimming has decided the suggestion (a block ended, a line repeated):
    // the tokens after that would be cut anyway, and the user is waiting for them.
    const settled = new AbortController();
    try {
      const client = await this.backends.ready();
      if (client.model?.hasFim === false) return undefined;
      const context = await this.crossFile.snippets(document, position);
      const stream = client.complete(
        {
          prefix: ctx.prefix,
          suffix: ctx.suffix,
          languageId: document.languageId,
          filePath: vscode.workspace.asRelativePath(document.uri, false),
          maxTokens: settings.inline.maxTokens,
          temperature: settings.temperature,
          mode: settings.decoding.mode,
          context,
        },
        AbortSignal.any([signal, settled.signal]),
      );
      stream.result.then((result) => this.recordStats(result.stats), (err: unknown) => reportStoppedStats(err, (stats) => this.recordStats(stats)));
      const trimmed = await collectSuggestion(stream, ctx.trim, () => settled.abort());
      const checked = await this.syntax.check({ languageId: document.languageId, prefix: ctx.prefix, suffix: ctx.suffix, suggestion: trimmed }).catch((err: unknown) => {
        // A missing or broken grammar must not cost the user their suggestions: show it unchecked.
        this.log.warn(`Inline syntax check unavailable: ${(err as Error).message}`);
        return { text: trimmed, outcome: 'unchecked' as const, ms: 0 };
      });
      if (checked.outcome === 'cut' || checked.outcome === 'dropped') this.log.debug(`Inline suggestion ${checked.outcome} by the syntax check (${checked.ms.toFixed(1)} ms)`);
      const suggestion = checked.text;
      const elapsed = performance.now() - started;
      this.debounce.recordLatency(elapsed);
      this.stats.latenciesMs.push(elapsed);
      if (suggestion.trim() === '') return undefined;
      this.cache.put(key, { prefix: ctx.prefix, suffix: ctx.suffix, text: suggestion });
      return this.items(suggestion, position);
    } catch (err) {
      // Superseded requests are the normal case while typing; anything else goes to the log only:
      // inline completion must never interrupt with notifications (the status bar shows backend trouble).
      if ((err as Error).name !== 'AbortError') this.log.warn(`Inline completion failed: ${(err as Error).message}`);
      return undefined;
    }
  }

  private recordStats(stats: GenerationStats): void {
    this.stats.last = stats;
    this.onResult(stats);
  }

  clearCache(): void {
    this.cache.clear();
  }

  dispose(): void {
    this.provided.dispose();
    this.crossFile.dispose();
  }

  private items(text: string, position: vscode.Position): vscode.InlineCompletionItem[] {
    this.provided.fire(text);
    return [new vscode.InlineCompletionItem(text, new vscode.Range(position, position))];
  }
}

function toAbortSignal(token: vscode.CancellationToken): AbortSignal {
  const controller = new AbortController();
  if (token.isCancellationRequested) controller.abort();
  else token.onCancellationRequested(() => controller.abort());
  return controller.signal;
}

export function registerInlineCompletions(provider: InlineCompletionProvider): vscode.Disposable {
  return vscode.languages.registerInlineCompletionItemProvider({ pattern: '**' }, provider);
}
