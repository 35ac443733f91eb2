// `virtuoso forward` against `ssh -L` over loopback, in the same run, to the same guest ports: real
// processes (DHT bootstrap, hub, QEMU providers under TCG) from flow-env.ts, a linux guest with busybox
// `nc -e cat` (echo) and a sink, and a loopback sshd whose -L goes to the provider-loopback port QEMU
// forwards to the guest (the port `virtuoso forward` reaches too, read back with HMP `info usernet`).
// Both end at the same guest, so what differs is the tunnel: HyperDHT + tunnel@1 vs an SSH channel.
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { once } from 'node:events'
import { connect } from 'node:net'
import { join } from 'node:path'
import { spawnVirtuoso } from '../../src/cli/child.ts'
import { Monitor } from '../../src/hv/qemu/monitor.ts'
import { startFlowEnv } from './flow-env.ts'
import { startSshd } from './migration-bench.ts'
import { cpuMs } from './proc-cpu.ts'
import { guestShell } from '../e2e/guest-shell.ts'
import type { BenchRow } from './table.ts'

const MB = 32
/** A process and its descendants (sshd forks a process per connection and one per session). */
function tree(pid: number): number[] {
  try {
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)
    return [pid, ...kids.map(Number).flatMap(tree)]
  } catch {
    return [pid]
  }
}

/** CPU ms the processes of `pids()` spend while `run` runs (processes that appear meanwhile count whole). */
async function cpuDuring<T>(pids: () => number[], run: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const before = new Map(pids().map((p) => [p, cpuMs(p)]))
  const result = await run()
  const ms = pids().reduce((a, p) => a + cpuMs(p) - (before.get(p) ?? 0), 0)
  return { result, ms }
}
const CONNECTS = 20
const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const r2 = (x: number) => Math.round(x * 100) / 100

/** ms from connect() to the echo of one byte, a new connection each time; the median. */
async function connectEcho(port: number): Promise<number> {
  const times: number[] = []
  for (let i = 0; i < CONNECTS; i++) {
    const t = performance.now()
    await new Promise<void>((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => s.write('x'))
      s.once('data', () => {
        times.push(performance.now() - t)
        s.destroy()
        resolve()
      })
      s.once('error', reject)
    })
  }
  return r2(p50(times))
}

/** MiB/s of MB MiB written to the guest's sink, until the guest closes its end (it read them all). */
async function sink(port: number): Promise<number> {
  const chunk = Buffer.alloc(1 << 20, 7)
  const t = performance.now()
  await new Promise<void>((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', allowHalfOpen: true }, async () => {
      for (let i = 0; i < MB; i++) if (!s.write(chunk)) await new Promise((r) => s.once('drain', r))
      s.end()
    })
    s.on('data', () => {})
    s.once('end', () => resolve())
    s.once('error', reject)
  })
  return r2(MB / ((performance.now() - t) / 1000))
}

/** Waits for a local port to accept connections (ssh -L starts listening a little after it runs). */
async function listening(port: number, proc: ChildProcess): Promise<void> {
  for (;;) {
    if (proc.exitCode !== null) throw new Error('ssh -L exited')
    const up = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1')
        .once('connect', () => (s.destroy(), resolve(true)))
        .once('error', () => resolve(false))
    })
    if (up) return
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** Ends a child process and waits until it is gone. */
async function end(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return
  const gone = once(proc, 'exit')
  proc.kill()
  await gone
}

export async function forwardBench(): Promise<BenchRow[]> {
  const env = await startFlowEnv()
  const procs: ChildProcess[] = []
  const stops: Array<() => Promise<unknown>> = []
  try {
    const reg = await env.cli('alice', [
      'register',
      '--os',
      'linux',
      '--memory',
      '128',
      '--hd',
      '2100',
      '--speed',
      '1000',
    ])
    const vm = reg.json.id as string
    await env.cli('alice', ['store', vm, '--on', env.pms[0]])
    await env.cli('alice', ['start', vm])
    const home = join(env.root, 'home-alice')
    const cliEnv = { VIRTUOSO_MARKET: env.market, VIRTUOSO_BOOTSTRAP: env.bootstrap }
    const sh = await guestShell(home, cliEnv, vm)
    try {
      for (let i = 0; ; i++) {
        try {
          await sh.run('true', 3000)
          break
        } catch (err) {
          if (i > 60) throw err
        }
      }
      await sh.run("while ! ifconfig eth1 | grep -q 'inet addr'; do sleep 0.2; done", 120_000)
      await sh.run("printf '#!/bin/sh\\ncat > /dev/null\\n' > /sink && chmod +x /sink")
      await sh.run(
        '(nc -ll -p 7 -e cat </dev/null >/dev/null 2>&1 &); (nc -ll -p 5001 -e /sink </dev/null >/dev/null 2>&1 &)',
      )
    } finally {
      await sh.close()
    }
    const qemuPid = Number(readFileSync(join(env.pmDirs[0], vm, 'qemu.pid'), 'utf8'))

    // virtuoso forward: the whole command until it listens, then connections through it.
    const fwd = async (remote: number) => {
      const t = performance.now()
      const child = spawnVirtuoso(['forward', vm, `0:${remote}`, '--json'], { env: { ...cliEnv, VIRTUOSO_HOME: home } })
      stops.push(() => child.stop())
      const [, port] = await child.waitFor(/"port":(\d+)/, 60_000)
      return { port: Number(port), pid: child.proc.pid!, readyMs: performance.now() - t }
    }
    const echoFwd = await fwd(7)
    const sinkFwd = await fwd(5001)
    // CPU time per MiB of the tunnel's two ends (the forward command, the provider's node) and of the
    // guest's QEMU, while the MiB go through: where the time goes on a machine short of cores.
    const oursCpu = await cpuDuring(
      () => [sinkFwd.pid, env.providerPids[0]],
      () =>
        cpuDuring(
          () => [qemuPid],
          () => sink(sinkFwd.port),
        ),
    )
    const ours = {
      ready: r2(echoFwd.readyMs),
      connect: await connectEcho(echoFwd.port),
      tput: oursCpu.result.result,
      cpu: r2(oursCpu.ms / MB),
      qemu: r2(oursCpu.result.ms / MB),
    }

    // The provider-loopback ports QEMU forwards to the guest (made by the forwards above).
    const mon = await Monitor.connect(join(env.pmDirs[0], vm, 'qmp.sock'))
    const usernet = await mon.hmp('info usernet').finally(() => mon.close())
    const hostPort = (guest: number) => {
      const m = new RegExp(`HOST_FORWARD\\]\\s+\\d+\\s+127\\.0\\.0\\.1\\s+(\\d+)\\s+\\S+\\s+${guest}\\b`).exec(usernet)
      if (!m) throw new Error(`no forward to guest port ${guest} in: ${usernet}`)
      return Number(m[1])
    }

    // ssh -L over a loopback sshd to the same ports.
    const sshd = await startSshd(env.root)
    procs.push(sshd.proc)
    const sshL = async (target: number) => {
      const local = 30000 + Math.floor(Math.random() * 20000)
      const t = performance.now()
      const proc = spawn(
        'ssh',
        [
          ...['-N', '-p', String(sshd.port), '-i', sshd.key, '-o', 'StrictHostKeyChecking=no'],
          ...['-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'ExitOnForwardFailure=yes'],
          ...['-L', `127.0.0.1:${local}:127.0.0.1:${target}`, '127.0.0.1'],
        ],
        { stdio: 'ignore' },
      )
      procs.push(proc)
      await listening(local, proc)
      return { port: local, pid: proc.pid!, readyMs: performance.now() - t }
    }
    const echoSsh = await sshL(hostPort(7))
    const sinkSsh = await sshL(hostPort(5001))
    const peerCpu = await cpuDuring(
      () => [sinkSsh.pid, ...tree(sshd.proc.pid!)],
      () =>
        cpuDuring(
          () => [qemuPid],
          () => sink(sinkSsh.port),
        ),
    )
    const peer = {
      ready: r2(echoSsh.readyMs),
      connect: await connectEcho(echoSsh.port),
      tput: peerCpu.result.result,
      cpu: r2(peerCpu.ms / MB),
      qemu: r2(peerCpu.result.ms / MB),
    }
    const direct = await cpuDuring(
      () => [qemuPid],
      () => sink(hostPort(5001)),
    )
    // The machine through the market while the nodes run (flow-env's stop does it for any left).
    await env.cli('alice', ['stop', vm])
    return [
      {
        name: 'forward: command start until it listens (hub ticket, DHT dial to the provider)',
        value: ours.ready,
        unit: 'ms',
        peer: peer.ready,
        peerName: 'ssh -N -L until it listens',
        target: 'seconds at most; it is paid once per forward',
      },
      {
        name: `forward: new connection to a 1-byte echo from the guest, median of ${CONNECTS}`,
        value: ours.connect,
        unit: 'ms',
        peer: peer.connect,
        peerName: 'ssh -L',
        target: 'near ssh -L (both end at the same TCG guest)',
      },
      {
        name: `forward: ${MB} MiB into a sink in the guest`,
        value: ours.tput,
        unit: 'MiB/s',
        peer: peer.tput,
        peerName: `ssh -L; straight to QEMU's forward: ${direct.result} MiB/s`,
        target: 'near ssh -L; the TCG guest bounds both',
      },
      {
        name: 'forward: CPU ms per MiB of the tunnel (forward command + provider node)',
        value: ours.cpu,
        unit: 'ms/MiB',
        peer: peer.cpu,
        peerName: 'ssh + sshd',
        target: 'what the 2 cores left to the tunnel decide',
      },
      {
        name: "forward: CPU ms per MiB of the guest's QEMU (TCG) meanwhile",
        value: ours.qemu,
        unit: 'ms/MiB',
        peer: peer.qemu,
        peerName: `under ssh -L; straight to QEMU's forward: ${r2(direct.ms / MB)}`,
        target: 'the same for both: the guest receives the same bytes',
      },
    ]
  } finally {
    for (const s of stops) await s().catch(() => {})
    for (const p of procs.reverse()) await end(p).catch(() => {})
    await env.stop()
  }
}
