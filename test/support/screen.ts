import xterm from '@xterm/headless';
import type { Pty } from './pty.js';

/**
 * What a full-screen program shows in its pseudo-terminal, as a person would
 * see it: the pty's output played into a terminal emulator (xterm.js, headless)
 * of the relay's size, read back as lines of text.
 */
export class Screen {
  private readonly terminal = new xterm.Terminal({ cols: 80, rows: 24, allowProposedApi: true });
  private fed = 0;

  constructor(readonly pty: Pty) {}

  /** The screen now, one line per row, trailing blanks trimmed. */
  async text(): Promise<string> {
    const raw = this.pty.raw;
    if (raw.length > this.fed) {
      const chunk = raw.slice(this.fed);
      this.fed = raw.length;
      await new Promise<void>((resolve) => this.terminal.write(chunk, resolve));
    }
    const buffer = this.terminal.buffer.active;
    const lines: string[] = [];
    for (let y = 0; y < this.terminal.rows; y += 1) {
      lines.push(buffer.getLine(buffer.viewportY + y)?.translateToString(true) ?? '');
    }
    return lines.join('\n');
  }

  /** Waits (generously) until the screen matches; returns the match. */
  async expect(pattern: RegExp, timeoutMs = 30_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const shown = await this.text();
      const match = pattern.exec(shown);
      if (match) return match;
      if (Date.now() > deadline) throw new Error(`the screen never showed ${pattern}; it shows:\n${shown}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
