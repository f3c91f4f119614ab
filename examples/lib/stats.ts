/** Latency samples and percentiles (nearest rank), and number formatting for summaries. */

export class Latency {
  #samples: Float64Array;
  count = 0;
  #sorted = false;

  constructor(initial = 1 << 16) {
    this.#samples = new Float64Array(initial);
  }

  /** Adds one sample in microseconds. */
  add(us: number): void {
    if (this.count === this.#samples.length) {
      const bigger = new Float64Array(this.#samples.length * 2);
      bigger.set(this.#samples);
      this.#samples = bigger;
    }
    this.#samples[this.count++] = us;
    this.#sorted = false;
  }

  /** The p-th percentile (0..100), or null without samples. */
  percentile(p: number): number | null {
    if (this.count === 0) return null;
    const s = this.#samples.subarray(0, this.count);
    if (!this.#sorted) {
      s.sort();
      this.#sorted = true;
    }
    const rank = Math.min(this.count - 1, Math.max(0, Math.ceil((p / 100) * this.count) - 1));
    return s[rank];
  }

  summary(): { min: number | null; p50: number | null; p90: number | null; p99: number | null; max: number | null } {
    const r = (v: number | null) => (v === null ? null : Math.round(v * 10) / 10);
    return { min: r(this.percentile(0)), p50: r(this.percentile(50)), p90: r(this.percentile(90)), p99: r(this.percentile(99)), max: r(this.percentile(100)) };
  }
}

/** 1234567 → '1.23M', for status lines. */
export function si(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return `${Math.round(n)}`;
}
