/** Frame sizes of the throughput benchmarks, and the memif buffer that holds one frame. */

/** The sweep of the throughput-vs-frame-size plot (`--sizes` of c-vs-dpdk and ts-forward). */
export const SWEEP_SIZES: readonly number[] = [64, 128, 256, 512, 1024, 1500, 4096, 9000];

/** Largest frame the benchmarks send (a jumbo frame without FCS). */
export const MAX_FRAME = 9216;

/**
 * Buffer size for frames of `size` bytes, the same for every side of a comparison: 2048 (the
 * memif default) while a frame fits, else the next power of two, so a frame is always one buffer.
 */
export function bufferSizeFor(size: number): number {
  let b = 2048;
  while (b < size) b *= 2;
  return b;
}
