// Boots the real guest image (fixtures/guest/build) under QEMU/TCG: first boot makes the file
// system, a file written to /data survives an ACPI power-down and a second boot.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LineReader } from '../../src/lines.ts'

const GUEST = join(dirname(fileURLToPath(import.meta.url)), '../../fixtures/guest/build')
const QEMU = process.env.VIRTUOSO_QEMU ?? 'qemu-system-x86_64'
const MARKER = 'VIRTUOSO-GUEST-READY'
const BOOT_TIMEOUT = 90_000 // TCG on a busy 2-core machine; a quiet one boots in ~5 s
const POWEROFF_TIMEOUT = 30_000

interface Guest {
  proc: ChildProcess
  output: () => string
  waitFor: (pattern: string | RegExp, timeoutMs: number) => Promise<number>
  send: (line: string) => void
  exited: Promise<number | null>
  qmpPath: string
}

const running = new Set<ChildProcess>()
let dir = ''

function boot(disk: string, name: string): Guest {
  const qmpPath = join(dir, `${name}.qmp`)
  const proc = spawn(
    QEMU,
    [
      '-accel',
      'tcg',
      '-m',
      '128',
      '-display',
      'none',
      '-no-reboot',
      '-nic',
      'none',
      '-kernel',
      join(GUEST, 'vmlinuz'),
      '-initrd',
      join(GUEST, 'initrd.img'),
      '-append',
      'console=ttyS0 quiet',
      '-drive',
      `file=${disk},if=virtio,format=vmdk`,
      '-serial',
      'stdio',
      '-monitor',
      'none',
      '-qmp',
      `unix:${qmpPath},server=on,wait=off`,
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  )
  running.add(proc)
  let out = ''
  let err = ''
  proc.stdout!.on('data', (d: Buffer) => {
    out += d.toString('latin1')
  })
  proc.stderr!.on('data', (d: Buffer) => {
    err += d.toString()
  })
  const exited = new Promise<number | null>((resolve) => {
    proc.on('exit', (code) => {
      running.delete(proc)
      resolve(code)
    })
  })
  const started = Date.now()
  const waitFor = (pattern: string | RegExp, timeoutMs: number) =>
    new Promise<number>((resolve, reject) => {
      const hit = () => (typeof pattern === 'string' ? out.includes(pattern) : pattern.test(out))
      const timer = setInterval(() => {
        if (hit()) {
          clearInterval(timer)
          resolve(Date.now() - started)
        } else if (proc.exitCode !== null || Date.now() - started > timeoutMs) {
          clearInterval(timer)
          reject(
            new Error(
              `guest ${name}: no ${pattern} within ${timeoutMs} ms` +
                ` (qemu exit ${proc.exitCode}); stderr: ${err.trim()}\n--- console ---\n${out.slice(-3000)}`,
            ),
          )
        }
      }, 25)
    })
  return { proc, output: () => out, waitFor, send: (l) => proc.stdin!.write(l + '\n'), exited, qmpPath }
}

// Minimal QMP client: greeting, capabilities, one command.
function qmp(path: string, command: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = connect(path)
    let step = 0
    sock.setTimeout(10_000, () => {
      sock.destroy()
      reject(new Error(`QMP ${command}: timeout`))
    })
    sock.on('error', reject)
    const lines = new LineReader((line) => {
      const msg = JSON.parse(line)
      if (msg.QMP && step === 0) {
        step = 1
        sock.write('{"execute":"qmp_capabilities"}\n')
      } else if (msg.return !== undefined && step === 1) {
        step = 2
        sock.write(JSON.stringify({ execute: command }) + '\n')
      } else if (msg.return !== undefined && step === 2) {
        sock.end()
        resolve()
      } else if (msg.error) {
        sock.destroy()
        reject(new Error(`QMP ${command}: ${msg.error.desc}`))
      }
    })
    sock.on('data', (d) => lines.push(d.toString()))
  })
}

async function powerdown(g: Guest): Promise<number> {
  const t0 = Date.now()
  await qmp(g.qmpPath, 'system_powerdown')
  const code = await Promise.race([
    g.exited,
    new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), POWEROFF_TIMEOUT)),
  ])
  if (code === 'timeout') {
    throw new Error(
      `guest did not power off within ${POWEROFF_TIMEOUT} ms of system_powerdown\n${g.output().slice(-2000)}`,
    )
  }
  expect(code).toBe(0)
  return Date.now() - t0
}

describe('guest image', () => {
  beforeAll(() => {
    for (const f of ['vmlinuz', 'initrd.img', 'manifest.json']) {
      if (!existsSync(join(GUEST, f))) {
        throw new Error(`guest image not built (${join(GUEST, f)} missing): run \`bash fixtures/guest/build.sh\``)
      }
    }
    dir = mkdtempSync(join(tmpdir(), 'virtuoso-guest-'))
  })

  afterAll(() => {
    for (const p of running) p.kill('SIGKILL')
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('manifest describes the built files', () => {
    const m = JSON.parse(readFileSync(join(GUEST, 'manifest.json'), 'utf8'))
    expect(m.readyMarker).toBe(MARKER)
    expect(m.kernel.version).toMatch(/cloud-amd64$/)
    expect(m.files['initrd.img'].bytes).toBe(readFileSync(join(GUEST, 'initrd.img')).length)
  })

  it(
    'boots to a shell, keeps /data across an ACPI power-down, boots again',
    async () => {
      // The disk the QEMU driver gives a machine: a VMDK twoGbMaxExtentFlat descriptor.
      const disk = join(dir, 'disk.vmdk')
      execFileSync('qemu-img', ['create', '-q', '-f', 'vmdk', '-o', 'subformat=twoGbMaxExtentFlat', disk, '256M'])
      const payload = `persist-${randomBytes(6).toString('hex')}`

      const first = boot(disk, 'first')
      const bootMs = await first.waitFor(MARKER, BOOT_TIMEOUT)
      console.log(`guest boot-to-shell (first boot, incl. mke2fs): ${bootMs} ms`)
      expect(first.output()).toContain('first boot: making a file system on /dev/vda')
      first.send(`echo ${payload} > /data/hello.txt && sync && echo WROTE-$((20+22))`)
      await first.waitFor('WROTE-42', 30_000)
      const offMs = await powerdown(first)
      expect(first.output()).toContain('virtuoso-guest: powering off')
      console.log(`guest ACPI power-down to QEMU exit: ${offMs} ms`)

      const second = boot(disk, 'second')
      const bootMs2 = await second.waitFor(MARKER, BOOT_TIMEOUT)
      console.log(`guest boot-to-shell (second boot): ${bootMs2} ms`)
      expect(second.output()).not.toContain('making a file system')
      second.send('cat /data/hello.txt; echo READ-$((40+2))')
      await second.waitFor('READ-42', 30_000)
      expect(second.output()).toContain(payload)
      await powerdown(second)
    },
    4 * BOOT_TIMEOUT,
  )
})
