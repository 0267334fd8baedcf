/**
 * The text being typed on the order line, with a cursor, the history (Up and
 * Down) and completion of the word before the cursor (Tab).
 */
export class OrderLine {
  text = '';
  cursor = 0;
  private recalled: number;
  /** What was being typed before Up went into the history. */
  private draft = '';

  constructor(readonly history: string[] = []) {
    this.recalled = history.length;
  }

  insert(chars: string): void {
    this.text = this.text.slice(0, this.cursor) + chars + this.text.slice(this.cursor);
    this.cursor += chars.length;
  }

  backspace(): void {
    if (this.cursor === 0) return;
    this.text = this.text.slice(0, this.cursor - 1) + this.text.slice(this.cursor);
    this.cursor -= 1;
  }

  deleteForward(): void {
    this.text = this.text.slice(0, this.cursor) + this.text.slice(this.cursor + 1);
  }

  move(by: number): void {
    this.cursor = Math.min(this.text.length, Math.max(0, this.cursor + by));
  }

  home(): void {
    this.cursor = 0;
  }

  end(): void {
    this.cursor = this.text.length;
  }

  clear(): void {
    this.set('');
    this.recalled = this.history.length;
  }

  /** Up (-1) and Down (+1) through the history; Down past the newest returns to the draft. */
  recall(step: -1 | 1): void {
    if (this.recalled === this.history.length) this.draft = this.text;
    const next = Math.min(this.history.length, Math.max(0, this.recalled + step));
    this.recalled = next;
    this.set(next === this.history.length ? this.draft : (this.history[next] ?? ''));
  }

  /** Takes the line (Enter): returns it and starts a new one. The caller decides what the history keeps. */
  take(): string {
    const line = this.text;
    this.clear();
    return line;
  }

  remember(line: string): void {
    if (line.trim() && this.history[this.history.length - 1] !== line) this.history.push(line);
    this.recalled = this.history.length;
  }

  /**
   * Completes the word before the cursor from `candidates(wordIndex, earlierWords)`:
   * one match is filled in (and a space), several are filled to what they share.
   * Returns the matches, for showing when there are several.
   */
  complete(candidates: (index: number, before: string[]) => string[]): string[] {
    const head = this.text.slice(0, this.cursor);
    const words = head.split(/\s+/);
    const word = words[words.length - 1] ?? '';
    const matches = candidates(words.length - 1, words.slice(0, -1)).filter((c) =>
      c.toLowerCase().startsWith(word.toLowerCase()),
    );
    if (matches.length === 0) return [];
    const shared = matches.reduce((a, b) => {
      let i = 0;
      while (i < a.length && i < b.length && a[i]?.toLowerCase() === b[i]?.toLowerCase()) i += 1;
      return a.slice(0, i);
    });
    const filled = matches.length === 1 ? `${shared} ` : shared;
    if (filled.length >= word.length) {
      this.text = head.slice(0, head.length - word.length) + filled + this.text.slice(this.cursor);
      this.cursor = head.length - word.length + filled.length;
    }
    return matches;
  }

  private set(text: string): void {
    this.text = text;
    this.cursor = text.length;
  }
}
