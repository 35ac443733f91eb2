// `npm run sim -- --seeds N [--from S] [--steps K] [--workers W]`, or `--seed S` to replay one. Prints a
// line per failing seed with the command that replays it, and a summary; exits 1 on any violation.
// Seeds are split over W worker processes (default: one per CPU), each running `--parallel` seeds
// at a time: one seed is deterministic whichever worker runs it.
import { spawn } from 'node:child_process'
import { availableParallelism, loadavg } from 'node:os'
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
const workers = Math.max(1, Math.min(seeds, opt('workers', availableParallelism())))

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

/** Runs seeds [from, from + seeds) in a child process; its last stdout line is the JSON results. */
function child(from: number, seeds: number): Promise<RunResult[]> {
  return new Promise((resolve, reject) => {
    const argv = [process.argv[1], '--from', String(from), '--seeds', String(seeds), '--steps', String(steps)]
    const p = spawn(process.execPath, ['bin/run-ts.js', ...argv, '--parallel', String(parallel), '--json-out'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let text = ''
    p.stdout.on('data', (b: Buffer) => (text += b))
    p.on('error', reject)
    p.on('close', () => {
      const lines = text.trim().split('\n')
      for (const l of lines.slice(0, -1)) console.log(l)
      try {
        resolve(JSON.parse(lines.at(-1) ?? '[]'))
      } catch {
        reject(new Error(`a sim worker for seeds ${from}..${from + seeds - 1} ended without results`))
      }
    })
  })
}

if (process.argv[1]?.endsWith('run.ts')) {
  if (args.includes('--json-out')) {
    console.log(JSON.stringify(await runSeeds(from, seeds, steps, parallel)))
  } else {
    const t0 = Date.now()
    const load = loadavg()[0]
    const per = Math.ceil(seeds / workers)
    const parts = await Promise.all(
      Array.from({ length: workers }, (_, i) => [from + i * per, Math.min(per, seeds - i * per)] as const)
        .filter(([, n]) => n > 0)
        .map(([f, n]) => (workers === 1 ? runSeeds(f, n, steps, parallel) : child(f, n))),
    )
    const results = parts.flat().sort((a, b) => a.seed - b.seed)
    const bad = results.filter((r) => r.violation)
    const totals: Record<string, number> = {}
    for (const r of results) for (const [k, v] of Object.entries(r.stats)) totals[k] = (totals[k] ?? 0) + v
    console.log(JSON.stringify(Object.fromEntries(Object.entries(totals).sort())))
    console.log(
      `${results.length} seeds (${from}..${from + seeds - 1}), ${steps} steps each, ${bad.length} with a violation, ` +
        `${((Date.now() - t0) / 1000).toFixed(1)} s on ${workers} worker(s); load average ${load.toFixed(2)} at the ` +
        `start, ${loadavg()[0].toFixed(2)} at the end`,
    )
    process.exitCode = bad.length ? 1 : 0
  }
}
