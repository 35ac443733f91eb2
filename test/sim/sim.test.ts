// The seeded simulation in CI, shortened (issue 11, "Proof"): every seed must keep every invariant
// (test/sim/invariants.ts), during the run and, strictly, once it has quiesced. The full run is
// `npm run sim -- --seeds 1000`. SIM_SEEDS / SIM_STEPS change the size of this one.
import { describe, expect, it } from 'vitest'
import { runSeeds } from './run.ts'

const SEEDS = Number(process.env.SIM_SEEDS ?? 200)
const STEPS = Number(process.env.SIM_STEPS ?? 100)

describe('seeded market simulation', () => {
  it(`${SEEDS} seeds of ${STEPS} steps keep money, rooms, versions, copies and the log`, async () => {
    const results = await runSeeds(1, SEEDS, STEPS, 4)
    const bad = results.filter((r) => r.violation).map((r) => `seed ${r.seed}: ${r.violation}`)
    expect(bad).toEqual([])
    // The faults must actually happen, or the run proves nothing.
    const total = (k: string) => results.reduce((s, r) => s + (r.stats[k] ?? 0), 0)
    for (const k of [
      'hub.restart',
      'node.crash',
      'net.lose-reply',
      'net.duplicate',
      'store.ok',
      'migrate.ok',
      'reconciled',
    ])
      expect(total(k), k).toBeGreaterThan(0)
  }, 300_000)
})
