/**
 * What keeps the process alive for nSockets: stacks keep their own handles unref'd, and each
 * nSocket that is active (bound, listening, connecting or connected) and ref'd holds one
 * reference on a single idle timer of its thread, like a ref'd dgram or net handle would.
 */
let holders = 0;
let timer: NodeJS.Timeout | null = null;

function hold(): void {
  if (holders++ === 0) timer = setInterval(() => undefined, 1 << 30);
}

function release(): void {
  if (--holders === 0 && timer !== null) {
    clearInterval(timer);
    timer = null;
  }
}

/** One nSocket's reference. */
export class LoopRef {
  #held = false;

  /** Holds the loop while `want`. */
  set(want: boolean): void {
    if (want === this.#held) return;
    this.#held = want;
    if (want) hold();
    else release();
  }
}
