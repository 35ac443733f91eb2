// `npm run sim -- --seeds N [--from S] [--steps K]`, or `--seed S` to replay one. Prints a line per
// failing seed with the command that replays it, and a summary; exits 1 on any violation.
import { runSeed, type RunResult } from './world.ts'

const args = process.argv.slice(2)
const opt = (name: string, dflt: number) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? Number(args[i + 1]) : dflt
}
const one = args.includes('--seed') ? opt('seed', 1) : null
const from = one ?? opt('from', 1)
const seeds = one !== null ? 1 : opt('seeds', 100)
const steps = opt('steps', 120)
const parallel = opt('parallel', 4)

export async function runSeeds(from: number, seeds: number, steps: number, parallel: number): Promise<RunResult[]> {
  const out: RunResult[] = []
  let next = from
  const worker = async () => {
    while (next < from + seeds) {
      const seed = next++
      const res = await runSeed(seed, steps)
      out.push(res)
      if (res.violation)
        console.log(`seed ${seed}: ${res.violation}\n  replay: npm run sim -- --seed ${seed} --steps ${steps}`)
    }
  }
  await Promise.all(Array.from({ length: parallel }, worker))
  return out.sort((a, b) => a.seed - b.seed)
}

if (process.argv[1]?.endsWith('run.ts')) {
  const t0 = Date.now()
  const results = await runSeeds(from, seeds, steps, parallel)
  const bad = results.filter((r) => r.violation)
  const totals: Record<string, number> = {}
  for (const r of results) for (const [k, v] of Object.entries(r.stats)) totals[k] = (totals[k] ?? 0) + v
  console.log(JSON.stringify(Object.fromEntries(Object.entries(totals).sort())))
  console.log(
    `${results.length} seeds (${from}..${from + seeds - 1}), ${steps} steps each, ${bad.length} with a violation, ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  )
  process.exitCode = bad.length ? 1 : 0
}
