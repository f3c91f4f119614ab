/**
 * Round-trip time percentiles and distribution, the way nmif-perf prints them (`rtt_us` of its
 * JSON): the value below which a fraction f of the samples lie, every 1 %, 99.9 % and the max.
 */
export interface RttSummary {
  samples: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  /** [fraction, µs] pairs, fractions increasing to 1. */
  cdf: Array<[number, number]>;
}

const r3 = (x: number) => Math.round(x * 1000) / 1000;

/** Summary of round-trip times in µs (null when there are none). */
export function rttSummary(us: Float64Array): RttSummary | null {
  const n = us.length;
  if (n === 0) return null;
  const s = Float64Array.from(us).sort();
  const at = (f: number) => r3(s[Math.min(n - 1, Math.max(0, Math.ceil(f * n - 1e-9) - 1))]);
  const cdf: Array<[number, number]> = [];
  for (let k = 1; k <= 99; k++) cdf.push([k / 100, at(k / 100)]);
  cdf.push([0.999, at(0.999)], [1, r3(s[n - 1])]);
  return { samples: n, min: r3(s[0]), p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), max: r3(s[n - 1]), cdf };
}
