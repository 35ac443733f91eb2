// A small deterministic PRNG (xorshift32) for tests, the simulation and benchmarks: the same seed
// gives the same run, so a failing seed can be replayed and a benchmark edits the same blocks.

/** Numbers in [0, 1) from `seed`; seed 0 counts as 1 (xorshift never leaves 0). */
export function prng(seed: number): () => number {
  let s = seed >>> 0 || 1
  return () => {
    s ^= s << 13
    s >>>= 0
    s ^= s >>> 17
    s ^= s << 5
    s >>>= 0
    return s / 0x100000000
  }
}
