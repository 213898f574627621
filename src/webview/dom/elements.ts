/** Small DOM builders. Text goes in through textContent only, so no string of ours or the model's becomes markup here. */

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export function actionButton(label: string, title: string, className = 'action'): HTMLButtonElement {
  const button = el('button', className, label);
  button.type = 'button';
  button.title = title;
  return button;
}
