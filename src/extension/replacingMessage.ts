/**
 * A message slot that holds one message at a time: showing a new one takes the last one down first,
 * so toggling inline completions five times leaves one message, not five stacked notifications.
 * Pure (the show function comes in) for unit tests; commands.ts passes window.setStatusBarMessage.
 */
export interface Shown {
  dispose(): void;
}

export class ReplacingMessage {
  private current: Shown | undefined;

  constructor(private readonly show: (text: string) => Shown) {}

  set(text: string): void {
    this.current?.dispose();
    this.current = this.show(text);
  }

  dispose(): void {
    this.current?.dispose();
    this.current = undefined;
  }
}

/** What the inline toggle says: the state in effect, and why when a workspace setting overrides the user's. */
export function inlineToggleMessage(wanted: boolean, effective: boolean): string {
  const state = effective ? 'on' : 'off';
  return effective === wanted
    ? `Chimera: inline completions are now ${state}.`
    : `Chimera: inline completions set ${wanted ? 'on' : 'off'} for the user, but this workspace's setting keeps them ${state}.`;
}
