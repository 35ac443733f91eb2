// `npm run bench -- migration-flow`: what a buyer waits for, from `virtuoso migrate` to "committed",
// with real processes on loopback (`virtuoso dht`, a hub, two QEMU providers, a suspended TCG guest
// with 128 MB of memory and a 3000 MB disk). Rows: the first trip (nothing cached), a cached
// unchanged return trip, and a trip with 1% of the disk's 64 KiB blocks changed. Beside each row, in
// the same run, OpenSSH rsync of the same machine directory over a loopback sshd, and the raw
// throughput of one HyperDHT (UDX + secret-stream) connection between two processes. Every row
// prints the migration's own per-phase timing (query, prepare, copy, verify, commit).
//
// FLOW_ROWS=rsync30 (a comma-separated list of ROWS below) runs only those rows: `cached` and `delta`
// bring `first` along (they need its cached copy); the big-disk rows move their machine to whichever
// provider does not hold it. Unset: every row.
import DHT from 'hyperdht'
import { spawn, type ChildProcess, execFileSync } from 'node:child_process'
import { mkdir, readdir, readFile, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { formatPhases } from '../../src/market/migrations.ts'
import { settleDisk, startFlowEnv } from './flow-env.ts'
import { bigDiskRows } from './migration-flow-big.ts'
import { touchBlocks } from '../vmmp/helpers.ts'
import { startSshd } from './migration-bench.ts'
import type { BenchRow } from './table.ts'
import { cpuMs } from './proc-cpu.ts'
import { SERVICE_FLAGS } from '../../bin/service.js'

const MiB = 1024 * 1024
const secs = (ms: number) => Math.round(ms) / 1000
const ROOT = resolve(import.meta.dirname, '../..')
export const ROWS = ['first', 'cached', 'delta', 'rsync30', 'scp30', 'scpfull'] as const
export type RowName = (typeof ROWS)[number]

/** The rows FLOW_ROWS names (every row when unset), with the rows they need. */
export function selectedRows(spec = process.env.FLOW_ROWS ?? ''): Set<RowName> {
  const names = spec
    .split(',')
    .map((n) => n.trim())
    .filter(Boolean)
  for (const n of names)
    if (!(ROWS as readonly string[]).includes(n)) throw new Error(`FLOW_ROWS: no row "${n}"; rows: ${ROWS.join(', ')}`)
  const rows = new Set<RowName>(names.length ? (names as RowName[]) : ROWS)
  if (rows.has('cached') || rows.has('delta')) rows.add('first')
  return rows
}

export async function migrationFlowBench(): Promise<BenchRow[]> {
  const selected = selectedRows()
  const env = await startFlowEnv()
  const { cli, pms, pmDirs } = env
  let sshd: ChildProcess | null = null
  let raw: ChildProcess | null = null
  const rows: BenchRow[] = []
  try {
    const small = selected.has('first')
    const vm = small ? await env.suspendedMachine(128, 3000) : ''
    const dirOf = (i: number) => join(pmDirs[i], vm)
    const bootstrap = env.bootstrap
    const root = env.root

    // Peers: OpenSSH rsync of the same machine directory over a loopback sshd; one raw HyperDHT stream.
    const ssh = await startSshd(root)
    sshd = ssh.proc
    const sshOpts = '-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR'
    const sshCmd = `ssh -p ${ssh.port} -i ${ssh.key} ${sshOpts}`
    const peerDir = join(root, 'peer')
    await mkdir(peerDir)
    const rsync = (from: string, flags: string[]) => {
      settleDisk()
      const t = performance.now()
      execFileSync('rsync', ['-a', ...flags, '-e', sshCmd, `root@127.0.0.1:${from}/`, `${peerDir}/`])
      return Math.round(performance.now() - t) / 1000
    }
    const measureRaw = () => rawThroughput(bootstrap, 512 * MiB, (p) => (raw = p))
    let rawFirst = small ? await measureRaw() : null
    const rawMiBs = rawFirst?.mibs ?? 0

    const migrate = async (
      to: string,
      what: string,
      peer: number,
      peerName: string,
      target: string,
      which = vm,
      method = 'RSYNC',
      rawCpuPerMiB?: number,
    ) => {
      settleDisk()
      const cpu0 = env.providerPids.reduce((a, p) => a + cpuMs(p), 0)
      const r = await cli('alice', ['migrate', which, '--to', to, '--method', method])
      const cpu = env.providerPids.reduce((a, p) => a + cpuMs(p), 0) - cpu0
      const m = r.json
      rows.push({
        name: `${what}: migrate to committed (${(m.bytesDone / MiB).toFixed(1)} MiB moved)`,
        value: Math.round(r.ms) / 1000,
        unit: 's',
        peer,
        peerName,
        target,
      })
      const listed = await cli('alice', ['migrations'])
      const row = (listed.json.migrations ?? listed.json).find((x: any) => x.id === m.id)
      rows.push({ name: `  phases (hub row)`, value: formatPhases(row?.phases) || '-', unit: '', target: '' })
      const log = await readFile(env.logs.providers[pms.indexOf(to)], 'utf8')
      const steps = [...log.matchAll(/arrived by \S+ in \d+ ms \(.*; ms: ([^)]*)\)/g)].pop()?.[1] ?? '-'
      rows.push({ name: '  destination steps (its log)', value: steps, unit: '', target: '' })
      // On 2 shared cores the wall time swings with other work; the CPU both nodes spent, much less.
      // RSYNC only: SCP's copy runs in ssh/sshd child processes this does not count.
      if (m.bytesDone > 0 && method === 'RSYNC')
        rows.push({
          name: '  CPU of both provider nodes per MiB moved',
          value: Math.round((cpu / (m.bytesDone / MiB)) * 10) / 10,
          unit: 'ms',
          ...(rawCpuPerMiB ? { peer: rawCpuPerMiB, peerName: 'raw transport, sender + receiver' } : {}),
          target: '',
        })
      // What any CLI command costs (start, find the hub on the DHT, log in, one call): the rest of the wait.
      rows.push({
        name: '  CLI floor: `virtuoso migrations` in the same run',
        value: secs(listed.ms),
        unit: 's',
        target: '',
      })
      return m
    }

    if (small) await smallDiskRows()
    async function smallDiskRows() {
      const used = async (i: number) => {
        let sum = 0
        for (const f of await readdir(dirOf(i))) sum += (await stat(join(dirOf(i), f))).blocks * 512
        return sum
      }
      const usedMiB = (await used(0)) / MiB
      const peerFirst = rsync(dirOf(0), ['--sparse'])
      await migrate(
        pms[1],
        `first trip, nothing cached (3000 MB disk, 128 MB memory, ${usedMiB.toFixed(0)} MiB allocated)`,
        peerFirst,
        'rsync -a --sparse over OpenSSH',
        `<= 2.0 s; raw transport ${rawMiBs} MiB/s = ${(usedMiB / rawMiBs).toFixed(2)} s for the allocated bytes`,
      )
      let at = 1
      const other = () => (at = 1 - at)
      if (selected.has('cached')) {
        const peerSame = rsync(dirOf(at), ['--inplace', '--no-whole-file'])
        await migrate(pms[other()], 'cached, unchanged', peerSame, 'rsync --inplace, unchanged', '<= 0.5 s')
      }
      if (!selected.has('delta')) return
      const extents = (await readdir(dirOf(at))).filter((f) => /-f\d+\.vmdk$/.test(f))
      let changed = 0
      for (const f of extents) {
        const size = (await stat(join(dirOf(at), f))).size
        changed += (await touchBlocks(join(dirOf(at), f), size, 0.01, 7 + changed)).length
      }
      // As a guest leaves its disk: written, then suspended (the provider hashes it then, in the background).
      await cli('alice', ['resume', vm])
      await cli('alice', ['suspend', vm])
      const peerDelta = rsync(dirOf(at), ['--inplace', '--no-whole-file'])
      await migrate(
        pms[other()],
        `1% of blocks changed (${changed} x 64 KiB)`,
        peerDelta,
        'rsync --inplace over OpenSSH',
        '<= 0.5 x rsync --inplace',
      )
    }
    const big = async () => (small ? measureRaw() : (rawFirst = await measureRaw()))
    await bigDiskRows({ env, ssh, raw: big, migrate, rows, selected })
    if (rawFirst)
      rows.push({
        name: 'raw transport: one HyperDHT connection between two processes',
        value: rawFirst.mibs,
        unit: 'MiB/s',
        target: `${rawFirst.cpuPerMiB} CPU ms per MiB, sender + receiver`,
      })
  } finally {
    sshd?.kill('SIGTERM')
    ;(raw as ChildProcess | null)?.kill('SIGTERM')
    await env.stop()
  }
  return rows
}

export interface RawTransport {
  /** MiB/s that the connection carried. */
  mibs: number
  /** CPU ms of both processes (sender and receiver) per MiB carried. */
  cpuPerMiB: number
}

const selfCpuMs = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

/** What one HyperDHT connection from a child process (test/bench/raw-source.ts) carries, and its CPU cost. */
export async function rawThroughput(
  bootstrap: string,
  bytes: number,
  keep: (p: ChildProcess) => void,
): Promise<RawTransport> {
  const child = spawn(
    process.execPath,
    [...SERVICE_FLAGS, 'bin/run-ts.js', 'test/bench/raw-source.ts', bootstrap, String(bytes)],
    {
      cwd: ROOT,
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  )
  keep(child)
  const key = await new Promise<string>((res, rej) => {
    let buf = ''
    child.stdout!.on('data', (d) => {
      buf += d
      const m = /key ([0-9a-f]{64})/.exec(buf)
      if (m) res(m[1])
    })
    child.once('exit', () => rej(new Error('raw-source exited')))
  })
  const [host, port] = bootstrap.split(':')
  const dht = new DHT({ bootstrap: [{ host, port: Number(port) }], host: '127.0.0.1' })
  try {
    const socket = dht.connect(Buffer.from(key, 'hex'))
    let got = 0
    let t0 = 0
    let cpu0 = 0
    await new Promise<void>((res, rej) => {
      socket.on('open', () => {
        t0 = performance.now()
        cpu0 = selfCpuMs() + cpuMs(child.pid)
      })
      socket.on('data', (d: Buffer) => (got += d.length))
      socket.on('end', () => res())
      socket.on('error', rej)
    })
    const mibs = Math.round(got / MiB / ((performance.now() - t0) / 1000))
    const cpuPerMiB = Math.round(((selfCpuMs() + cpuMs(child.pid) - cpu0) / (got / MiB)) * 10) / 10
    socket.destroy()
    return { mibs, cpuPerMiB }
  } finally {
    await dht.destroy()
    child.kill('SIGTERM')
  }
}
