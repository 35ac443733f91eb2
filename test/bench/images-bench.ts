// Image benchmark, one run, a real market on 127.0.0.1 (DHT, hub, three provider nodes as processes
// on the test driver, a fourth on QEMU/TCG), the built debian-12 image (fixtures/images):
//   - `virtuoso store` of a machine with the image on a provider that lacks it (the whole CLI
//     command: delivery from the hub, the disk written as the image arrives, the store committed),
//     beside OpenSSH `scp` of the same file to a throwaway sshd on 127.0.0.1;
//   - the same on a second provider, when the hub and the first provider both serve it (two
//     sources at once), beside the one-source store;
//   - a second store on the first provider (cached: 0 bytes move);
//   - `virtuoso start --console` to a shell for debian-12 and linux machines made from catalog
//     images on the QEMU provider, beside bare QEMU booting the same image file (images-boot.ts).
// BENCH_LOG=1 copies the providers' logs to stderr; BENCH_PROF=DIR writes CPU profiles of the nodes.
import { execFileSync, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execa } from 'execa'
import { spawnVirtuoso, VIRTUOSO_BIN, type Child } from '../../src/cli/child.ts'
import { packageRoot } from '../../src/root.ts'
import { startSshd } from './migration-bench.ts'
import type { BenchRow } from './table.ts'
import { bareToShell, startToShell } from './images-boot.ts'
import { TEST_COST } from '../scrypt-cost.ts'

const MiB = 1024 * 1024
// BENCH_PROF=DIR: the hub and providers write V8 CPU profiles there (for finding where the time goes).
const prof = process.env.BENCH_PROF
  ? { entry: ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF}`, VIRTUOSO_BIN] }
  : {}
const secs = (ms: number) => Math.round(ms) / 1000

export async function imagesBench(opts: { image?: string } = {}): Promise<BenchRow[]> {
  const root = await mkdtemp(join(tmpdir(), 'images-bench-'))
  const procs: Child[] = []
  let sshd: ChildProcess | null = null
  const started: string[] = []
  // Guests outlive their node by design: whatever was started is stopped through the market first.
  let stopAll = async () => {}
  try {
    const image = opts.image ?? join(packageRoot(), 'fixtures/images/build/debian-12.img')
    const size = (await stat(image)).size
    const dht = spawnVirtuoso(['dht', '--port', '0'])
    procs.push(dht)
    const [, bootstrap] = await dht.waitFor(/listening on (\S+)/)
    const hub = spawnVirtuoso(
      ['node', '--hub', '--data', join(root, 'hub'), '--bootstrap', bootstrap, ...TEST_COST],
      prof,
    )
    procs.push(hub)
    const [, market] = await hub.waitFor(/market key: ([0-9a-f]{64})/)
    const env = { VIRTUOSO_MARKET: market, VIRTUOSO_BOOTSTRAP: bootstrap, VIRTUOSO_HOME: join(root, 'home') }
    const cli = async (args: string[], input = '') => {
      const t = performance.now()
      const r = await execa('node', [VIRTUOSO_BIN, ...args, '--json'], { env, input, reject: false })
      const ms = performance.now() - t
      const last = String(r.stdout).trim().split('\n').pop() ?? ''
      const json = JSON.parse(last || '{}')
      if (r.exitCode !== 0) throw new Error(`virtuoso ${args.join(' ')}: ${last} ${r.stderr}`)
      return { ms, json }
    }
    const admin = (args: string[]) => cli(['admin', ...args, '--data', join(root, 'hub')])
    await admin(['image', 'add', 'debian-12', image, '--os', 'debian-12'])
    const pairings: string[] = []
    await admin(['image', 'add', 'linux', join(packageRoot(), 'fixtures/images/build/linux.img'), '--os', 'linux'])
    for (let i = 0; i < 4; i++) {
      const hv = i < 3 ? ['--hv', 'test'] : ['--hv', 'qemu', '--accel', 'tcg']
      const args = [
        'node',
        '--data',
        join(root, `p${i}`),
        '--market',
        market,
        '--bootstrap',
        bootstrap,
        ...hv,
        ...TEST_COST,
      ]
      const p = spawnVirtuoso(args, prof)
      procs.push(p)
      if (process.env.BENCH_LOG) p.proc.stderr?.on('data', (d: Buffer) => process.stderr.write(`p${i}: ${d}`))
      pairings.push((await p.waitFor(/pairing code: (\S+)/))[1])
      for (let t = 0; !p.errLines.some((l) => /connected to the hub|bound to the market/.test(l)); t++) {
        if (t > 300) throw new Error('a provider never reached the hub')
        await new Promise((r) => setTimeout(r, 100))
      }
    }
    const login = async (u: string, type: string) => {
      await cli(
        ['signup', '--user', u, '--type', type, '--email', `${u}@example.org`, '--password-stdin'],
        'pw-bench-1\n',
      )
      await cli(['login', '--user', u, '--password-stdin'], 'pw-bench-1\n')
    }
    await login('prov', 'provider')
    const pms: string[] = []
    for (const [i, code] of pairings.entries())
      pms.push((await cli(['pm', 'add', '--pairing', code, '--name', `pm${i}`])).json.id)
    await login('buyer', 'buyer')
    await admin(['credit', 'buyer', '1000'])
    const vm = async () => (await cli(['register', '--config', 'small', '--image', 'debian-12'])).json.id as string
    const [a, b, c] = [await vm(), await vm(), await vm()]

    const one = await cli(['store', a, '--on', pms[0]])
    const two = await cli(['store', b, '--on', pms[1]])
    const cached = await cli(['store', c, '--on', pms[0]])

    const ssh = await startSshd(root)
    sshd = ssh.proc
    const scpArgs = ['-q', '-i', ssh.key, '-P', String(ssh.port), '-o', 'StrictHostKeyChecking=no']
    scpArgs.push('-o', 'UserKnownHostsFile=/dev/null', image, `root@127.0.0.1:${root}/scp.img`)
    const t = performance.now()
    execFileSync('scp', scpArgs)
    const scpMs = performance.now() - t

    const boots: BenchRow[] = []
    stopAll = async () => {
      for (const id of started) await cli(['stop', id]).catch(() => {})
    }
    for (const [img, memory] of [
      ['debian-12', 512],
      ['linux', 128],
    ] as const) {
      const id = (await cli(['register', '--memory', `${memory}`, '--hd', '3000', '--speed', '1000', '--image', img]))
        .json.id as string
      await cli(['store', id, '--on', pms[3]])
      started.push(id)
      // A guest that does not boot (under heavy host load a TCG kernel can panic in its IO-APIC timer
      // check) is this row's result, with its reason; the delivery rows above still stand.
      const why = (err: unknown) =>
        `failed: ${String((err as Error).message)
          .split('\n')
          .pop()
          ?.slice(0, 80)}`
      const ours = await startToShell(id, env).catch((err) => why(err))
      await cli(['stop', id])
      const peer = await bareToShell(img, memory).catch((err) => why(err))
      const at = `${img} from the catalog, ${memory} MB, TCG`
      boots.push({
        name: `start --console to a shell, ${at}`,
        value: typeof ours === 'string' ? ours : secs(ours.ms),
        unit: 's',
        peer: typeof peer === 'string' ? peer : secs(peer.ms),
        peerName: 'bare qemu-system-x86_64, same image',
        target: 'the whole command within 10% of bare QEMU',
      })
      if (typeof ours !== 'string' && typeof peer !== 'string') {
        boots.push({
          name: `  of which the guest's own boot (its uptime at the shell), ${img}`,
          value: ours.uptime,
          unit: 's',
          peer: peer.uptime,
          peerName: 'bare QEMU',
          target: 'the rest of the wall time is the host side (CLI, hub, provider, QEMU start, firmware)',
        })
        console.error(`${img} ours: ${ours.analyze.join(' | ')}\n${img} bare: ${peer.analyze.join(' | ')}`)
      }
    }

    const data = one.json.delivered.bytes as number
    const by = Object.values(two.json.delivered.bySource as Record<string, number>)
    return [
      {
        name: `store with image delivery, 1 source (${Math.round(size / MiB)} MiB image, ${Math.round(data / MiB)} MiB data)`,
        value: secs(one.ms),
        unit: 's',
        peer: secs(scpMs),
        peerName: 'OpenSSH scp of the file',
        target: 'the whole `virtuoso store` no slower than scp of the file',
      },
      {
        name: `store with image delivery, 2 sources at once (MiB each: ${by.map((x) => Math.round(x / MiB)).join(' + ')})`,
        value: secs(two.ms),
        unit: 's',
        peer: secs(one.ms),
        peerName: 'the same store from 1 source',
        target: 'faster than one source when the link, not the CPU, is the limit',
      },
      {
        name: `second store of the image on the same provider (${cached.json.delivered.bytes} bytes moved)`,
        value: secs(cached.ms),
        unit: 's',
        target: '0 image bytes',
      },
      ...boots,
    ]
  } finally {
    await stopAll()
    sshd?.kill()
    for (const p of procs.reverse()) await p.stop().catch(() => {})
    await rm(root, { recursive: true, force: true })
  }
}
