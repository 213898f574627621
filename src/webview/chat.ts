/**
 * Chat webview script (bundled to media/build/chat.js, runs in the webview's browser sandbox).
 * It renders what the host sends and reports what the user does; the conversation itself lives in
 * the host. `vscode.setState` keeps a copy so a re-created panel shows the conversation at once,
 * before the host's transcript arrives.
 */
import { Composer, Header } from './dom/controls';
import { probe } from './dom/probe';
import { Transcript } from './dom/transcript';
import { el } from './dom/elements';
import { isExtensionToWebview, isTranscriptMessage, type ExtensionToWebview, type TranscriptMessage, type WebviewToExtension } from './messages';

interface SavedState {
  messages: TranscriptMessage[];
  draft: string;
  includeContext: boolean;
}

interface VsCodeApi {
  postMessage(message: WebviewToExtension): void;
  getState(): unknown;
  setState(state: SavedState): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
// Read while this script is the one running: the nonce our own <script> carries (the probe compares).
const pageNonce = document.currentScript?.nonce ?? '';

function savedState(): SavedState {
  const state = vscode.getState() as Partial<SavedState> | undefined;
  return {
    messages: Array.isArray(state?.messages) ? state.messages.filter(isTranscriptMessage) : [],
    draft: typeof state?.draft === 'string' ? state.draft : '',
    includeContext: state?.includeContext === true,
  };
}

function start(root: HTMLElement): void {
  const post = (message: WebviewToExtension) => vscode.postMessage(message);
  const transcript = new Transcript(el('section', 'transcript'), {
    codeAction: (action, code) => post({ type: 'codeAction', action, code }),
    runAction: (action) => post({ type: 'runAction', action }),
  });
  transcript.root.setAttribute('aria-live', 'polite');
  const header = new Header(
    () => post({ type: 'newChat' }),
    (action) => post({ type: 'runAction', action }),
  );
  const save = () => vscode.setState({ messages: transcript.messages(), ...rename(composer.draft) });
  const composer = new Composer({
    send: (text, includeContext) => post({ type: 'send', text, includeContext }),
    stop: () => post({ type: 'stop' }),
    changed: save,
  });
  root.replaceChildren(header.node, transcript.root, composer.node);

  const restored = savedState();
  transcript.replaceAll(restored.messages);
  composer.restore(restored.draft, restored.includeContext);
  composer.setBusy(transcript.busy);

  const apply = (message: ExtensionToWebview) => {
    handle(message, { transcript, header, post });
    composer.setBusy(transcript.busy);
    if (message.type !== 'delta' && message.type !== 'probe') save();
  };
  window.addEventListener('message', (event: MessageEvent<unknown>) => {
    if (isExtensionToWebview(event.data)) apply(event.data);
  });
  post({ type: 'ready' });
}

function rename(draft: { text: string; includeContext: boolean }) {
  return { draft: draft.text, includeContext: draft.includeContext };
}

interface Parts {
  transcript: Transcript;
  header: Header;
  post: (message: WebviewToExtension) => void;
}

function handle(message: ExtensionToWebview, { transcript, header, post }: Parts): void {
  switch (message.type) {
    case 'status':
      return header.show(message.engine, message.detail, message.actions);
    case 'transcript':
      return transcript.replaceAll(message.messages);
    case 'append':
      return transcript.append(message.message);
    case 'delta':
      return transcript.delta(message.id, message.text);
    case 'done': {
      const received = transcript.done(message.message);
      return post({ type: 'rendered', id: message.message.id, ...received });
    }
    case 'probe':
      return post({ type: 'probeResult', requestId: message.requestId, report: probe(transcript.root, pageNonce) });
  }
}

const root = document.getElementById('root');
if (root) start(root);
