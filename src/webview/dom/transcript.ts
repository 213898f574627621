/**
 * The conversation in the panel. Streamed pieces are appended to a message's text and the message is
 * re-rendered at most once per animation frame (markdown is re-parsed whole, so rendering per piece
 * would be quadratic in long replies). A reply's final form is rendered at once, frame or not, since
 * a hidden panel gets no frames.
 */
import { hasCode, STATUS_ACTION_TITLES, type CodeAction, type ReplyStats, type StatusAction, type TranscriptMessage } from '../messages';
import { actionButton, el } from './elements';
import { codeSource, renderCode, renderMarkdown } from './markdown';

export interface TranscriptHandlers {
  codeAction(action: CodeAction, code: string): void;
  runAction(action: StatusAction): void;
}

interface Entry {
  message: TranscriptMessage;
  node: HTMLElement;
  who: HTMLElement;
  body: HTMLElement;
  footer: HTMLElement;
  /** Streamed pieces received for this message since it was shown. */
  pieces: number;
}

const CODE_BUTTONS: readonly [CodeAction, string, string][] = [
  ['copy', 'Copy', 'Copy the code to the clipboard'],
  ['insert', 'Insert', 'Insert the code at the cursor in the editor'],
  ['applyDiff', 'Apply…', 'Review the code as a diff against the editor (selection, or whole file) before applying'],
];


export class Transcript {
  private readonly entries = new Map<string, Entry>();
  private readonly dirty = new Set<Entry>();
  private frame: number | null = null;
  /** Our buttons, what they do and the code they take; model HTML can never add to this map. */
  private readonly codeButtons = new WeakMap<Element, { action: CodeAction; code: string }>();

  constructor(
    readonly root: HTMLElement,
    private readonly handlers: TranscriptHandlers,
  ) {
    root.addEventListener('click', (event) => this.onClick(event));
    this.showEmpty();
  }

  messages(): TranscriptMessage[] {
    return [...this.entries.values()].map((e) => e.message);
  }

  get busy(): boolean {
    return this.messages().some((m) => m.status === 'streaming');
  }

  replaceAll(messages: readonly TranscriptMessage[]): void {
    this.entries.clear();
    this.dirty.clear();
    this.root.replaceChildren();
    for (const message of messages) this.append(message);
    if (messages.length === 0) this.showEmpty();
  }

  append(message: TranscriptMessage): void {
    if (this.entries.size === 0) this.root.replaceChildren();
    const entry = this.createEntry({ ...message });
    this.entries.get(message.id)?.node.remove();
    this.entries.set(message.id, entry);
    this.root.append(entry.node);
    this.renderEntry(entry);
    this.scrollToEnd(true);
  }

  delta(id: string, text: string): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    entry.message.text += text;
    entry.pieces++;
    this.dirty.add(entry);
    this.frame ??= requestAnimationFrame(() => this.flush());
  }

  /** Shows the final form; returns what had been received before it (for the `rendered` report). */
  done(message: TranscriptMessage): { pieces: number; text: string } {
    const entry = this.entries.get(message.id);
    if (!entry) {
      this.append(message);
      return { pieces: 0, text: '' };
    }
    const received = { pieces: entry.pieces, text: entry.message.text };
    const nearEnd = this.isNearEnd();
    entry.message = { ...message };
    this.dirty.delete(entry);
    this.renderEntry(entry);
    this.scrollToEnd(nearEnd);
    return received;
  }

  private flush(): void {
    this.frame = null;
    const nearEnd = this.isNearEnd();
    for (const entry of this.dirty) this.renderEntry(entry);
    this.dirty.clear();
    this.scrollToEnd(nearEnd);
  }

  private createEntry(message: TranscriptMessage): Entry {
    const node = el('article', `message ${message.role}`);
    node.dataset.role = message.role;
    const who = el('header', 'message-role', message.role === 'user' ? 'You' : 'Chimera');
    const body = el('div', 'message-body');
    const footer = el('footer', 'message-footer');
    node.append(who, body, footer);
    return { message, node, who, body, footer, pieces: 0 };
  }

  private renderEntry(entry: Entry): void {
    const m = entry.message;
    entry.node.dataset.status = m.status ?? '';
    if (m.role === 'user') this.renderQuestion(entry);
    else {
      entry.who.replaceChildren('Chimera', ...modelName(m.model));
      entry.body.replaceChildren(renderMarkdown(m.text));
      this.decorateCode(entry.body, CODE_BUTTONS);
    }
    entry.footer.replaceChildren(...this.footerParts(m));
  }

  private renderQuestion({ message, body }: Entry): void {
    body.replaceChildren(el('p', 'question', message.text));
    const a = message.attachment;
    if (!a) return;
    const label = el('div', 'attachment-label', `${a.label}${a.truncated ? ' (truncated to fit the model)' : ''}`);
    body.append(label, renderCode(a.code, a.languageId));
    this.decorateCode(body, CODE_BUTTONS.slice(0, 1));
  }

  /**
   * Wraps every code block with its toolbar; the buttons are remembered here, not marked in the DOM,
   * with the block's markdown source. A `<pre>` written as raw HTML has no source, and gets no buttons;
   * nor does a block with no code in it, which has nothing to copy and whose Apply… would only delete.
   */
  private decorateCode(body: HTMLElement, buttons: readonly (readonly [CodeAction, string, string])[]): void {
    for (const pre of body.querySelectorAll('pre')) {
      const code = codeSource.get(pre);
      if (code === undefined || !hasCode(code)) continue;
      const wrapper = el('div', 'code-block');
      const toolbar = el('div', 'code-actions');
      for (const [action, label, title] of buttons) {
        const button = actionButton(label, title);
        this.codeButtons.set(button, { action, code });
        toolbar.append(button);
      }
      pre.replaceWith(wrapper);
      wrapper.append(toolbar, pre);
    }
  }

  private footerParts(m: TranscriptMessage): Node[] {
    if (m.role === 'user') return [];
    const notice = m.notice ? [el('span', 'note', m.notice)] : [];
    return [...this.statusParts(m), ...notice];
  }

  private statusParts(m: TranscriptMessage): Node[] {
    switch (m.status) {
      case 'streaming':
        return [el('span', 'generating', m.text ? 'Generating…' : 'Waiting for the engine…')];
      case 'cancelled':
        return [el('span', 'note', 'Stopped.')];
      case 'length':
        return [el('span', 'note', 'Stopped at the token limit (chimera.chat.maxTokens).'), ...statsParts(m.stats)];
      case 'error':
        return [el('span', 'error', m.error ?? 'The reply failed.'), ...(m.errorActions ?? []).map((a) => this.runButton(a))];
      default:
        return statsParts(m.stats);
    }
  }

  private runButton(action: StatusAction): HTMLElement {
    const button = actionButton(STATUS_ACTION_TITLES[action], STATUS_ACTION_TITLES[action]);
    button.addEventListener('click', () => this.handlers.runAction(action));
    return button;
  }

  private onClick(event: MouseEvent): void {
    const button = event.target instanceof Element ? event.target.closest('button') : null;
    const known = button ? this.codeButtons.get(button) : undefined;
    if (known) this.handlers.codeAction(known.action, known.code.replace(/\n$/, ''));
  }

  private showEmpty(): void {
    const panel = el('section', 'empty-state');
    panel.append(
      el('h2', 'empty-title', 'Chimera Chat'),
      el('p', 'empty-text', 'Private code chat with a model that runs on this machine. Nothing is sent anywhere.'),
      el('p', 'empty-text', 'Ask a question below, or select code and run “Chimera: Explain Selection”.'),
    );
    this.root.replaceChildren(panel);
  }

  private isNearEnd(): boolean {
    const r = this.root;
    return r.scrollHeight - r.scrollTop - r.clientHeight < 48;
  }

  /** Follows the reply as it grows, unless the user has scrolled up to read something. */
  private scrollToEnd(force: boolean): void {
    if (force || this.isNearEnd()) this.root.scrollTop = this.root.scrollHeight;
  }
}

/** Which model wrote a reply; replies stored before this was recorded show none. */
function modelName(model: string | undefined): Node[] {
  if (!model) return [];
  const span = el('span', 'message-model', model);
  span.title = 'The model that wrote this reply';
  return [span];
}

function statsParts(stats: ReplyStats | undefined): Node[] {
  if (!stats) return [];
  const text = `${stats.generatedTokens} tokens · ${stats.decodeTokensPerSecond.toFixed(1)} tok/s · ${stats.meanAcceptedLength.toFixed(2)} tokens/step`;
  return [el('span', 'stats', text)];
}
