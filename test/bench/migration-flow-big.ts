// The big-disk rows of `npm run bench -- migration-flow`: a suspended machine whose disk holds 30%
// random data moves by RSYNC the first time (beside the allocated bytes at the raw transport's rate,
// measured right before it: the machine's load changes within a run), back by SCP (beside OpenSSH scp of the same files), then with its
// disk fully random by SCP again (beside scp). The issue names a 1 GiB disk; the market's smallest
// is 2048 MB, so the fractions are the and the disk is twice its size. Each row moves the
// machine to the provider that does not hold it, so any of them can run alone (FLOW_ROWS).
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, open, readdir, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { makeImage } from '../vmmp/helpers.ts'
import { settleDisk, type FlowEnv } from './flow-env.ts'
import type { BenchRow } from './table.ts'
import type { RawTransport } from './migration-flow-bench.ts'

const MiB = 1024 * 1024

type Migrate = (
  to: string,
  what: string,
  peer: number,
  peerName: string,
  target: string,
  which?: string,
  method?: string,
  rawCpuPerMiB?: number,
) => Promise<any>

export async function bigDiskRows(o: {
  env: FlowEnv
  ssh: { port: number; key: string }
  /** Measures the raw transport now. */
  raw: () => Promise<RawTransport>
  migrate: Migrate
  rows: BenchRow[]
  selected: Set<string>
}): Promise<void> {
  const { env, ssh, migrate, selected } = o
  if (!['rsync30', 'scp30', 'scpfull'].some((r) => selected.has(r))) return
  const { cli, pms, pmDirs } = env
  const vm = await env.suspendedMachine(128, 2048)
  const dirOf = (i: number) => join(pmDirs[i], vm)
  const peerDir = join(env.root, 'peer-big')
  // Fill the disk as a guest would have (then suspended: the provider hashes it in the background).
  const fill = async (i: number, fraction: number, seed: number) => {
    for (const f of (await readdir(dirOf(i))).filter((n) => /-f\d+\.vmdk$/.test(n))) {
      const path = join(dirOf(i), f)
      const size = (await stat(path)).size
      if (fraction < 1) await makeImage(path, size, fraction, seed)
      else await fillRandom(path, size)
    }
    await cli('alice', ['resume', vm])
    await cli('alice', ['suspend', vm])
  }
  const allocated = async (i: number) => {
    let sum = 0
    for (const f of await readdir(dirOf(i))) sum += (await stat(join(dirOf(i), f))).blocks * 512
    return sum
  }
  const scp = async (from: string) => {
    await rm(peerDir, { recursive: true, force: true })
    await mkdir(peerDir)
    settleDisk()
    const t = performance.now()
    // The machine's files, as the migration moves them: regular files (a guest's network socket lives
    // there too, and scp refuses it), not our hidden bookkeeping.
    const files: string[] = []
    for (const f of await readdir(from, { withFileTypes: true }))
      if (f.isFile() && !f.name.startsWith('.')) files.push(f.name)
    execFileSync('scp', [
      ...['-q', '-P', String(ssh.port), '-i', ssh.key],
      ...['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR'],
      ...files.map((f) => `root@127.0.0.1:${join(from, f)}`),
      peerDir,
    ])
    return Math.round(performance.now() - t) / 1000
  }

  let at = 0
  const other = () => (at = 1 - at)
  await fill(at, 0.3, 21)
  if (selected.has('rsync30')) {
    const bytes = await allocated(at)
    const raw = await o.raw()
    const rawSecs = bytes / MiB / raw.mibs
    await migrate(
      pms[other()],
      `first trip, 2 GiB disk 30% random (${(bytes / MiB).toFixed(0)} MiB allocated)`,
      Math.round(rawSecs * 1000) / 1000,
      `allocated bytes at the raw transport's ${raw.mibs} MiB/s`,
      '<= 1.1 x the raw transport',
      vm,
      'RSYNC',
      raw.cpuPerMiB,
    )
  }
  if (selected.has('scp30')) {
    const peer30 = await scp(dirOf(at))
    await migrate(pms[other()], 'SCP, 2 GiB disk 30% random', peer30, 'OpenSSH scp', '<= 0.5 x scp', vm, 'SCP')
  }
  if (!selected.has('scpfull')) return
  await fill(at, 1, 22)
  const peerFull = await scp(dirOf(at))
  await migrate(pms[other()], 'SCP, 2 GiB disk fully random', peerFull, 'OpenSSH scp', '<= 1.0 x scp', vm, 'SCP')
}

/** Every byte random: nothing sparse left for either side to skip. */
async function fillRandom(path: string, size: number): Promise<void> {
  const fh = await open(path, 'r+')
  try {
    for (let pos = 0; pos < size; pos += 4 * MiB) {
      const len = Math.min(4 * MiB, size - pos)
      await fh.write(randomBytes(len), 0, len, pos)
    }
  } finally {
    await fh.close()
  }
}
