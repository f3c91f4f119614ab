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

/** One nSocket's reference: held while the socket is active and ref'd. */
export class LoopRef {
  #ref = true;
  #active = false;
  #held = false;

  /** ref() / unref() of the socket. */
  setRef(on: boolean): void {
    this.#ref = on;
    this.#update();
  }

  /** Whether the socket is doing something a handle would keep the loop alive for. */
  setActive(on: boolean): void {
    this.#active = on;
    this.#update();
  }

  #update(): void {
    const want = this.#ref && this.#active;
    if (want === this.#held) return;
    this.#held = want;
    if (want) hold();
    else release();
  }
}
