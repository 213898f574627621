/**
 * The panel's controls: the header (engine status with its action buttons, and New chat) and the
 * composer (the input box, the context toggle, Send and Stop).
 */
import { STATUS_ACTION_TITLES, type EngineStatusKind, type StatusAction } from '../messages';
import { actionButton, el } from './elements';

export class Header {
  readonly node = el('header', 'toolbar');
  private readonly status = el('div', 'status');
  private readonly text = el('span', 'status-text', 'Connecting…');
  private readonly actions = el('span', 'status-actions');

  constructor(onNewChat: () => void, private readonly onAction: (action: StatusAction) => void) {
    this.status.setAttribute('role', 'status');
    this.status.append(el('span', 'status-dot'), this.text, this.actions);
    const newChat = actionButton('New Chat', 'Clear the conversation and start a new one', 'secondary');
    newChat.addEventListener('click', onNewChat);
    this.node.append(this.status, newChat);
  }

  show(engine: EngineStatusKind, detail: string, actions: readonly StatusAction[]): void {
    this.status.dataset.engine = engine;
    this.text.textContent = detail;
    this.actions.replaceChildren(
      ...actions.map((action) => {
        const button = actionButton(STATUS_ACTION_TITLES[action], STATUS_ACTION_TITLES[action]);
        button.addEventListener('click', () => this.onAction(action));
        return button;
      }),
    );
  }
}

export interface ComposerHandlers {
  send(text: string, includeContext: boolean): void;
  stop(): void;
  /** The draft or the toggle changed (so the webview state can remember them). */
  changed(): void;
}

export class Composer {
  readonly node = el('form', 'composer');
  readonly input = el('textarea', 'input');
  private readonly context = el('input', 'context-checkbox');
  private readonly sendButton = el('button', 'primary', 'Send');
  private readonly stopButton = el('button', 'secondary', 'Stop');

  constructor(private readonly handlers: ComposerHandlers) {
    this.input.rows = 2;
    this.input.placeholder = 'Ask about your code (Enter to send, Shift+Enter for a new line)';
    this.input.setAttribute('aria-label', 'Message');
    this.context.type = 'checkbox';
    this.context.id = 'include-context';
    const label = el('label', 'context-toggle');
    label.htmlFor = this.context.id;
    label.title = 'Send the editor selection, or the whole file when nothing is selected, with your question';
    label.append(this.context, document.createTextNode(' Include selection (or file)'));
    this.sendButton.type = 'submit';
    this.stopButton.type = 'button';
    this.stopButton.title = 'Stop the reply';
    const row = el('div', 'composer-row');
    row.append(label, el('span', 'spacer'), this.stopButton, this.sendButton);
    this.node.append(this.input, row);
    this.listen();
    this.setBusy(false);
  }

  private listen(): void {
    this.node.addEventListener('submit', (event) => {
      event.preventDefault();
      this.submit();
    });
    this.input.addEventListener('keydown', (event) => {
      // Enter sends; Shift+Enter is a newline; Enter that confirms an IME composition is not a send.
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.submit();
      }
    });
    this.input.addEventListener('input', () => this.handlers.changed());
    this.context.addEventListener('change', () => this.handlers.changed());
    this.stopButton.addEventListener('click', () => this.handlers.stop());
  }

  private submit(): void {
    const text = this.input.value.trim();
    if (text.length === 0 || this.sendButton.disabled) return;
    this.handlers.send(text, this.context.checked);
    this.input.value = '';
    this.handlers.changed();
  }

  /** While a reply streams, Stop replaces Send (a new question would stop it anyway). */
  setBusy(busy: boolean): void {
    this.stopButton.hidden = !busy;
    this.sendButton.hidden = busy;
    this.sendButton.disabled = busy;
  }

  get draft(): { text: string; includeContext: boolean } {
    return { text: this.input.value, includeContext: this.context.checked };
  }

  restore(text: string, includeContext: boolean): void {
    this.input.value = text;
    this.context.checked = includeContext;
  }
}
