/**
 * A small LRU cache of suggestions. It also serves "typing through": when the user types the first
 * characters of a suggestion that is showing, the rest of that suggestion is still the answer, with no
 * new request (VS Code asks again on every keystroke).
 */

export interface CachedSuggestion {
  /** Document text before the cursor when the suggestion was made. */
  prefix: string;
  /** Document text after the cursor. */
  suffix: string;
  text: string;
}

export class SuggestionCache {
  private readonly entries = new Map<string, CachedSuggestion>();

  constructor(private readonly capacity = 64) {}

  /** Remembers a suggestion for a document position (keyed by document and what surrounds the cursor). */
  put(document: string, entry: CachedSuggestion): void {
    const key = this.key(document, entry.prefix, entry.suffix);
    this.entries.delete(key);
    this.entries.set(key, entry);
    while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string);
  }

  /**
   * A suggestion for this position: an exact hit, or one made a few characters earlier whose start the
   * user has since typed (the remainder is returned).
   */
  get(document: string, prefix: string, suffix: string): string | undefined {
    const exact = this.entries.get(this.key(document, prefix, suffix));
    if (exact) return this.touch(this.key(document, prefix, suffix), exact).text;
    for (const [key, entry] of [...this.entries].reverse()) {
      if (!key.startsWith(`${document}\u0000`) || entry.suffix !== suffix) continue;
      if (!prefix.startsWith(entry.prefix)) continue;
      const typed = prefix.slice(entry.prefix.length);
      if (typed.length > 0 && entry.text.startsWith(typed) && entry.text.length > typed.length) {
        this.touch(key, entry);
        return entry.text.slice(typed.length);
      }
    }
    return undefined;
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  private touch(key: string, entry: CachedSuggestion): CachedSuggestion {
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry;
  }

  /** The cursor's surroundings identify a position; the tail of the prefix is enough and keeps keys small. */
  private key(document: string, prefix: string, suffix: string): string {
    return `${document}\u0000${prefix.slice(-2000)}\u0000${suffix.slice(0, 500)}`;
  }
}
