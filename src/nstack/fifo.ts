/** A growable ring of values: O(1) push and shift without Array.prototype.shift's copying. */
export class Fifo<T> {
  #items: Array<T | undefined>;
  #head = 0;
  #size = 0;

  constructor(initial = 16) {
    this.#items = new Array(initial);
  }

  get length(): number {
    return this.#size;
  }

  push(value: T): void {
    if (this.#size === this.#items.length) this.#grow();
    this.#items[(this.#head + this.#size) % this.#items.length] = value;
    this.#size++;
  }

  /** The oldest value (undefined when empty). */
  peek(): T | undefined {
    return this.#size === 0 ? undefined : this.#items[this.#head];
  }

  shift(): T | undefined {
    if (this.#size === 0) return undefined;
    const value = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.#items.length;
    this.#size--;
    return value;
  }

  clear(): void {
    this.#items.fill(undefined);
    this.#head = 0;
    this.#size = 0;
  }

  #grow(): void {
    const bigger: Array<T | undefined> = new Array(this.#items.length * 2);
    for (let i = 0; i < this.#size; i++) bigger[i] = this.#items[(this.#head + i) % this.#items.length];
    this.#items = bigger;
    this.#head = 0;
  }
}
