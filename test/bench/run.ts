// `npm run bench`: every benchmark in one run, each measure printed beside its target or the peer
// it must beat (OpenSSH rsync/scp, bare QEMU), the peer measured in this same run on the same files.
// Pick some with `npm run bench -- market transport`
// (names: market export transport hv console migration images vnet forward migration-flow flood).
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { packageRoot } from '../../src/root.ts'
import { printTable, type BenchRow } from './table.ts'
import { marketBench } from './market-bench.ts'
import { exportBench } from './export-bench.ts'
import { transportBench } from './transport-bench.ts'
import { hvBench } from './hv-bench.ts'
import { consoleBench } from './console-bench.ts'
import { migrationBench } from './migration-bench.ts'
import { imagesBench } from './images-bench.ts'
import { vnetBench } from './vnet-bench.ts'
import { forwardBench } from './forward-bench.ts'
import { migrationFlowBench } from './migration-flow-bench.ts'
import { floodBench } from './flood-bench.ts'

const suites: Record<string, () => Promise<BenchRow[]>> = {
  market: async () => marketBench(),
  export: async () => exportBench(),
  transport: async () => transportBench(),
  hv: async () =>
    (await hvBench()).map((r) => ({
      name: r.name,
      value: r.ours,
      unit: r.unit,
      peer: r.bare,
      peerName: 'bare qemu-system-x86_64',
      target: r.target,
    })),
  console: async () =>
    (await consoleBench()).map((r) => ({
      name: `${r.name}: keystroke to echo p50 (p95 ${r.p95Ms} ms, ${r.samples} keys)`,
      value: r.p50Ms,
      unit: 'ms',
      target: r.overGuestP50Ms === null ? '-' : `p50 < 20 ms beyond the guest's echo (here +${r.overGuestP50Ms} ms)`,
    })),
  migration: async () => migrationBench(),
  images: async () => imagesBench(),
  vnet: async () => vnetBench(),
  forward: async () => forwardBench(),
  'migration-flow': async () => migrationFlowBench(),
  flood: async () => floodBench(),
}

const wanted = process.argv.slice(2).filter((a) => a !== '--')
const names = wanted.length ? wanted : Object.keys(suites)
for (const n of names)
  if (!suites[n]) {
    console.error(`unknown benchmark "${n}"; choose from ${Object.keys(suites).join(', ')}`)
    process.exit(2)
  }
// The CLI runs from the bundle, as a user's does (bin/virtuoso.js falls back to tsx when it is stale).
execFileSync(process.execPath, [join(packageRoot(), 'scripts/build.js')], { stdio: 'inherit' })
const started = Date.now()
for (const n of names) {
  const t0 = Date.now()
  try {
    const rows = await suites[n]()
    printTable(`${n} (${((Date.now() - t0) / 1000).toFixed(0)} s)`, rows)
  } catch (err) {
    console.error(`\n== ${n} == failed: ${(err as Error).message}`)
    process.exitCode = 1
  }
}
console.log(`\nall benchmarks: ${((Date.now() - started) / 1000).toFixed(0)} s`)
