// Hypervisor benchmark: boot-to-shell (firmware, GRUB and the kernel inside the OS image, up to a shell
// answering on the serial console: the busybox prompt of `linux`, root's autologin shell of
// `debian-12`), suspend (time and state-file size) and resume, through our layer (Hypervisor + qemu
// driver: the image written into a qemu-nbd-served VMDK, the first-boot seed, daemonized QEMU, QMP)
// and beside it the same steps on a bare qemu-system-x86_64 command line booting the same image
// (a raw disk file, same QMP commands), in the same run. Target: our overhead under 10%. TCG, as KVM
// hangs on these hosts.
// Run alone: node bin/run-ts.js test/bench/hv-bench.ts
import { spawn, type ChildProcess } from 'node:child_process'
import { connect, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { execa } from 'execa'
import { Hypervisor } from '../../src/hv/hypervisor.ts'
import { Monitor } from '../../src/hv/qemu/monitor.ts'
import { ConsoleSession } from '../hv/console.ts'
import { DEFAULT_IMAGE_DIR } from '../../src/hv/image.ts'

export interface BenchRow {
  name: string
  ours: number
  bare: number
  unit: string
  target: string
}

const RUNS: Array<{ os: string; memory: number }> = [
  { os: 'linux', memory: 128 },
  { os: 'linux', memory: 512 },
  { os: 'debian-12', memory: 512 },
]
const HD = 3000
const TARGET = 'ours ≤ bare × 1.10'

async function shellAnswers(open: () => Promise<Duplex>, timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    let sock: Duplex | null = null
    try {
      sock = await open()
      const t = new ConsoleSession(sock)
      for (;;) {
        try {
          await t.run('echo "re""ady"', 300)
          return
        } catch (err) {
          if (Date.now() > deadline) throw err
        }
      }
    } catch (err) {
      if (Date.now() > deadline) throw err
      await new Promise((r) => setTimeout(r, 50))
    } finally {
      sock?.destroy()
    }
  }
}

function unixSocket(path: string): Promise<Socket> {
  return new Promise((res, rej) => {
    const s = connect(path)
    s.once('connect', () => res(s))
    s.once('error', rej)
  })
}

async function ours(
  os: string,
  memory: number,
): Promise<{ boot: number; suspend: number; size: number; resume: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'virtuoso-hv-bench-'))
  const hv = await Hypervisor.open({ driver: 'qemu', dir, accel: 'tcg', stopTimeoutMs: 10_000 })
  try {
    await hv.create('b', { memory, hd: HD, speed: 1000, os })
    await hv.register('b')
    let t = performance.now()
    await hv.start('b')
    await shellAnswers(() => hv.console('b'))
    const boot = performance.now() - t
    t = performance.now()
    await hv.suspend('b')
    const suspend = performance.now() - t
    const size = (await stat(join(hv.dirOf('b'), 'state.sav'))).size
    t = performance.now()
    await hv.resume('b')
    await shellAnswers(() => hv.console('b'))
    const resume = performance.now() - t
    await hv.stop('b')
    return { boot, suspend, size, resume }
  } finally {
    await hv.close()
    await rm(dir, { recursive: true, force: true })
  }
}

/** Bare qemu-system-x86_64 booting `os`'s image from a raw disk; `bootOnly` stops at the shell (a
 *  string: first runs that command there and returns its output as `report`). */
export async function bare(
  os: string,
  memory: number,
  bootOnly: boolean | string = false,
): Promise<{ boot: number; suspend: number; size: number; resume: number; report?: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'virtuoso-hv-bench-bare-'))
  const procs: ChildProcess[] = []
  const run = (extra: string[]): ChildProcess => {
    const p = spawn(
      'qemu-system-x86_64',
      [
        '-nodefaults',
        '-display',
        'none',
        '-vga',
        'std',
        '-machine',
        'pc,accel=tcg',
        '-m',
        String(memory),
        '-smp',
        '1',
        '-qmp',
        `unix:${dir}/qmp.sock,server=on,wait=off`,
        '-chardev',
        `socket,id=s,path=${dir}/serial.sock,server=on,wait=off`,
        '-serial',
        'chardev:s',
        '-drive',
        `file=${dir}/disk.raw,format=raw,if=virtio`,
        ...extra,
      ],
      { stdio: 'ignore' },
    )
    procs.push(p)
    return p
  }
  const exited = (p: ChildProcess): Promise<void> =>
    new Promise((r) => (p.exitCode !== null ? r() : p.once('exit', () => r())))
  const monitor = async (): Promise<Monitor> => {
    for (let i = 0; ; i++) {
      try {
        return await Monitor.connect(`${dir}/qmp.sock`)
      } catch (e) {
        if (i > 200) throw e
        await new Promise((r) => setTimeout(r, 25))
      }
    }
  }
  try {
    await execa('qemu-img', ['create', '-f', 'raw', join(dir, 'disk.raw'), `${HD}M`])
    const image = join(DEFAULT_IMAGE_DIR, `${os}.img`)
    await execa('dd', [`if=${image}`, `of=${join(dir, 'disk.raw')}`, 'bs=1M', 'conv=notrunc,sparse', 'status=none'])
    let t = performance.now()
    let q = run([])
    await shellAnswers(() => unixSocket(`${dir}/serial.sock`))
    const boot = performance.now() - t
    if (typeof bootOnly === 'string') {
      const s = new ConsoleSession(await unixSocket(`${dir}/serial.sock`))
      const report = await s.run(bootOnly, 60_000).finally(() => s.close())
      return { boot, suspend: 0, size: 0, resume: 0, report }
    }
    if (bootOnly) return { boot, suspend: 0, size: 0, resume: 0 }
    t = performance.now()
    let mon = await monitor()
    await mon.saveState(join(dir, 'state.sav'), { timeoutMs: 120_000 })
    await mon.quit()
    mon.close()
    await exited(q)
    const suspend = performance.now() - t
    const size = (await stat(join(dir, 'state.sav'))).size
    t = performance.now()
    q = run(['-S', '-incoming', `exec:cat '${dir}/state.sav'`])
    mon = await monitor()
    if ((await mon.waitIncoming(120_000)) === 'paused') await mon.cont()
    await shellAnswers(() => unixSocket(`${dir}/serial.sock`))
    const resume = performance.now() - t
    await mon.quit()
    mon.close()
    await exited(q)
    return { boot, suspend, size, resume }
  } finally {
    for (const p of procs) p.kill('SIGKILL')
    await rm(dir, { recursive: true, force: true })
  }
}

export async function hvBench(): Promise<BenchRow[]> {
  const rows: BenchRow[] = []
  for (const { os, memory } of RUNS) {
    const b = await bare(os, memory)
    const o = await ours(os, memory)
    const ms = (x: number): number => Math.round(x)
    const at = `${os}, ${memory} MB`
    rows.push(
      { name: `boot to shell, ${at}`, ours: ms(o.boot), bare: ms(b.boot), unit: 'ms', target: TARGET },
      { name: `suspend, ${at}`, ours: ms(o.suspend), bare: ms(b.suspend), unit: 'ms', target: TARGET },
      {
        name: `state file, ${at}`,
        ours: +(o.size / 1048576).toFixed(1),
        bare: +(b.size / 1048576).toFixed(1),
        unit: 'MiB',
        target: TARGET,
      },
      { name: `resume to shell, ${at}`, ours: ms(o.resume), bare: ms(b.resume), unit: 'ms', target: TARGET },
    )
  }
  return rows
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const rows = await hvBench()
  const w = Math.max(...rows.map((r) => r.name.length))
  console.log(`${'step'.padEnd(w)}  ${'ours'.padStart(9)}  ${'bare'.padStart(9)}  unit  overhead  target`)
  for (const r of rows) {
    const over = r.bare ? `${(((r.ours - r.bare) / r.bare) * 100).toFixed(1)}%` : '-'
    console.log(
      `${r.name.padEnd(w)}  ${String(r.ours).padStart(9)}  ${String(r.bare).padStart(9)}  ${r.unit.padEnd(4)}  ${over.padStart(8)}  ${r.target}`,
    )
  }
}
