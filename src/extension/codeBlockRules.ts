/**
 * The host's own check on a code block action. The webview already gives empty blocks no buttons, but
 * it is untrusted and may be stale, so the host decides again. Pure (no vscode) for unit tests.
 */
import { hasCode, type CodeAction } from '../webview/messages';

const VERBS: Readonly<Record<CodeAction, string>> = { copy: 'copy', insert: 'insert', applyDiff: 'apply' };

/** The message that refuses `action` on `code`, or undefined when the action may run. */
export function codeActionRefusal(action: CodeAction, code: string): string | undefined {
  if (hasCode(code)) return undefined;
  // Say what would have happened: an empty Apply… replaces the selection (or file) with nothing.
  const consequence = action === 'copy' ? '' : ` (${action === 'insert' ? 'inserting' : 'applying'} it would only delete what is selected)`;
  return `Chimera: that code block is empty, so there is nothing to ${VERBS[action]}${consequence}.`;
}
