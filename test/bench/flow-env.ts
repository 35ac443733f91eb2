// The processes `npm run bench -- migration-flow` times, on loopback: `virtuoso dht`, a hub and two
// QEMU providers (TCG) as real processes, a provider account with both machines added, and a buyer
// who is logged in and credited. `cli` runs one `virtuoso … --json` command as that user and says
// how long the whole process took.
import { execa } from 'execa'
import { execFileSync } from 'node:child_process'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { providerNodeArgs, spawnVirtuoso, VIRTUOSO_BIN, type Child } from '../../src/cli/child.ts'
import { TEST_COST } from '../scrypt-cost.ts'
import { setUpUsers } from '../e2e/users.ts'

const ROOT = resolve(import.meta.dirname, '../..')

/** Writes every dirty page out before a measure starts. The peers (scp, rsync) never fsync: the 2 GiB
 *  an scp left in the page cache were written back during the next measure, whose fsyncs then waited
 *  behind them (SCP's final sync took 15-20 ms alone, 340-420 ms right after an scp). */
export function settleDisk(): void {
  execFileSync('sync')
}

export interface Cli {
  ms: number
  exitCode: number
  json: any
  out: string
  stderr: string
}

export interface FlowEnv {
  root: string
  bootstrap: string
  market: string
  /** Provider machine ids, and the machines directory of each provider. */
  pms: string[]
  pmDirs: string[]
  /** The provider nodes' process ids (benchmarks read their CPU time). */
  providerPids: number[]
  /** The providers' logs (stderr), and the hub's. */
  logs: { providers: string[]; hub: string }
  /** `virtuoso ARGS --json` as `who` (a home of its own); throws on a non-zero exit. */
  cli(who: string, args: string[], input?: string, env?: Record<string, string>): Promise<Cli>
  /** Register, store on pms[0], start and suspend a machine; returns its id. */
  suspendedMachine(memoryMB: number, diskMB: number): Promise<string>
  stop(): Promise<void>
}

export async function startFlowEnv(): Promise<FlowEnv> {
  // The CLI runs its bundle only when it is newer than the sources: build it, or tsx start-up is timed.
  execFileSync(process.execPath, ['scripts/build.js'], { cwd: ROOT, stdio: 'ignore' })
  const root = await mkdtemp(join(tmpdir(), 'virtuoso-flow-'))
  const procs: Child[] = []
  const pmDirs: string[] = []
  let env: Record<string, string> = {}
  const run = async (who: string, args: string[], input = '', extra: Record<string, string> = {}): Promise<Cli> => {
    const t = performance.now()
    const r = await execa('node', [VIRTUOSO_BIN, ...args, '--json'], {
      env: { ...env, VIRTUOSO_HOME: join(root, `home-${who}`), VIRTUOSO_DEBUG: '', ...extra },
      input,
      reject: false,
      timeout: 300_000,
    })
    const ms = performance.now() - t
    const out = String(r.stdout)
    let json: any
    try {
      json = JSON.parse(out.trim().split('\n').pop() ?? '')
    } catch {
      json = null
    }
    return { ms, exitCode: r.exitCode ?? -1, json, out, stderr: String(r.stderr) }
  }
  const cli = async (who: string, args: string[], input = '', extra: Record<string, string> = {}): Promise<Cli> => {
    const r = await run(who, args, input, extra)
    if (r.exitCode !== 0) throw new Error(`virtuoso ${args.join(' ')}: ${r.out} ${r.stderr}`)
    return r
  }
  const stop = async () => {
    // Guests outlive their node by design: stop the buyer's running machines through the market while
    // the nodes still run (QEMU and qemu-nbd end cleanly), then end whatever a failed stop left behind.
    const listed = env.VIRTUOSO_MARKET ? await cli('alice', ['machines']).catch(() => null) : null
    for (const vm of (listed?.json?.vms ?? []) as Array<{ id: string; state: string }>)
      if (vm.state === 'started') await cli('alice', ['stop', vm.id]).catch(() => {})
    for (const d of pmDirs) {
      const dirs = await readdir(d).catch(() => [] as string[])
      for (const vm of dirs)
        for (const pid of ['qemu.pid', 'nbd.pid'])
          await execa('pkill', ['-F', join(d, vm, pid)], { reject: false }).catch(() => {})
    }
    for (const p of procs.reverse()) await p.stop().catch(() => {})
    await rm(root, { recursive: true, force: true })
  }
  try {
    const dht = spawnVirtuoso(['dht', '--port', '0'])
    procs.push(dht)
    const [, bootstrap] = await dht.waitFor(/listening on (\S+)/)
    // Each node's log (stderr) stays in the run's directory: the destination logs each arrival's steps.
    const hub = spawnVirtuoso(['node', '--hub', '--data', join(root, 'hub'), '--bootstrap', bootstrap, ...TEST_COST], {
      stderrFile: join(root, 'hub.log'),
    })
    procs.push(hub)
    const [, market] = await hub.waitFor(/market key: ([0-9a-f]{64})/)
    env = { VIRTUOSO_MARKET: market, VIRTUOSO_BOOTSTRAP: bootstrap }
    const pairings: string[] = []
    for (let i = 0; i < 2; i++) {
      const data = join(root, `provider${i}`)
      pmDirs.push(join(data, 'machines'))
      const proc = spawnVirtuoso(providerNodeArgs({ data, market, bootstrap, hv: 'qemu', extra: TEST_COST }), {
        stderrFile: join(root, `provider${i}.log`),
      })
      procs.push(proc)
      pairings.push((await proc.waitFor(/pairing code: (\S+)/, 60_000))[1])
    }
    const { pms } = await setUpUsers(run, {
      users: [
        ['prov', 'provider'],
        ['alice', 'buyer'],
      ],
      hubData: join(root, 'hub'),
      credit: ['alice', '1000'],
      pairings,
      pmName: (i) => `pm${i}`,
    })
    const suspendedMachine = async (memoryMB: number, diskMB: number) => {
      const reg = await cli(
        'alice',
        ['register', '--os', 'none', '--memory', String(memoryMB)].concat(['--hd', String(diskMB), '--speed', '1000']),
      )
      const vm = reg.json.id as string
      await cli('alice', ['store', vm, '--on', pms[0]])
      await cli('alice', ['start', vm])
      await cli('alice', ['suspend', vm])
      return vm
    }
    const logs = { providers: [0, 1].map((i) => join(root, `provider${i}.log`)), hub: join(root, 'hub.log') }
    const providerPids = procs.slice(2).map((p) => p.proc.pid!)
    return { root, bootstrap, market, pms, pmDirs, providerPids, logs, cli, suspendedMachine, stop }
  } catch (err) {
    await stop()
    throw err
  }
}
