/**
 * A live status line, redrawn in place on stderr, only when stderr is a terminal (pipes and
 * files get the final summary only).
 */
export class StatusLine {
  readonly enabled: boolean;
  #timer: NodeJS.Timeout | null = null;
  #shown = false;

  constructor(render: () => string, intervalMs = 500, stream: NodeJS.WriteStream = process.stderr) {
    this.enabled = stream.isTTY === true;
    if (!this.enabled) return;
    this.#timer = setInterval(() => {
      stream.write(`\r\x1b[K${render()}`);
      this.#shown = true;
    }, intervalMs);
    this.#timer.unref();
    this.#stream = stream;
  }

  #stream: NodeJS.WriteStream | null = null;

  /** Stops redrawing and clears the line. */
  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    if (this.#shown && this.#stream) this.#stream.write('\r\x1b[K');
    this.#shown = false;
  }
}
