// --accel auto|kvm|tcg. KVM is only used when a short probe boot reaches the guest's shell: on some
// hosts /dev/kvm exists but guests hang under it (design.md, Known pitfalls), so its presence proves nothing.
// The probe costs up to 8 s, so its result is kept per host boot (probe-cache.ts), and the probe QEMU
// runs under `timeout` and is killed when this process exits: a KVM guest that hangs spins at 100% CPU.
import { spawn, spawnSync } from 'node:child_process'
import { access, constants } from 'node:fs/promises'
import { HvError, HV_BAD_INPUT } from '../errors.ts'
import { readProbe, writeProbe } from './probe-cache.ts'

export type AccelMode = 'auto' | 'kvm' | 'tcg'
export interface AccelChoice {
  accel: 'kvm' | 'tcg'
  note: string
}

export const PROBE_TIMEOUT_MS = 8000
const cache = new Map<string, Promise<AccelChoice>>()

export interface ProbeOptions {
  qemu: string
  kernel: string | null
  initrd: string | null
  marker: string
  timeoutMs?: number
  /** Where probe results are kept per host boot (default: probe-cache.ts's file; null = not kept). */
  cacheFile?: string | null
}

export function chooseAccel(mode: AccelMode, p: ProbeOptions): Promise<AccelChoice> {
  if (mode === 'tcg') return Promise.resolve({ accel: 'tcg', note: 'accel: TCG (software emulation), as configured' })
  const key = `${mode}\0${p.qemu}\0${p.kernel}`
  let c = cache.get(key)
  if (!c) cache.set(key, (c = choose(mode, p)))
  return c
}

async function choose(mode: AccelMode, p: ProbeOptions): Promise<AccelChoice> {
  const hasKvm = await access('/dev/kvm', constants.R_OK | constants.W_OK).then(
    () => true,
    () => false,
  )
  if (mode === 'kvm') {
    if (!hasKvm)
      throw new HvError(
        HV_BAD_INPUT,
        'KVM was asked for (--accel kvm) but /dev/kvm is missing or not writable; use --accel auto or tcg.',
      )
    return { accel: 'kvm', note: 'accel: KVM, as configured (not probed)' }
  }
  if (!hasKvm) return { accel: 'tcg', note: 'accel: TCG, because /dev/kvm is missing' }
  if (!p.kernel || !p.initrd)
    return { accel: 'tcg', note: 'accel: TCG, because the guest image needed for the KVM probe is not built' }
  return probeKvm(p)
}

/** The probe itself, or its result kept from earlier in this host boot. */
export async function probeKvm(p: ProbeOptions): Promise<AccelChoice> {
  const key = `${p.qemu}\0${p.kernel}`
  const kept = await readProbe(key, p.cacheFile)
  if (kept) return { accel: kept.accel, note: `${kept.note} (probed earlier in this boot)` }
  const t0 = Date.now()
  const ok = await probe(p)
  if (ok === null) return { accel: 'tcg', note: `accel: TCG, because ${p.qemu} could not be run for the KVM probe` }
  const choice: AccelChoice = ok
    ? { accel: 'kvm', note: `accel: KVM (a probe guest reached its shell in ${Date.now() - t0} ms)` }
    : {
        accel: 'tcg',
        note:
          `accel: TCG, because a probe guest under KVM did not reach its shell within ` +
          `${p.timeoutMs ?? PROBE_TIMEOUT_MS} ms`,
      }
  await writeProbe(key, choice, p.cacheFile).catch(() => {})
  return choice
}

const hasTimeout = (): boolean => spawnSync('timeout', ['--version'], { stdio: 'ignore' }).status === 0

/** true: the guest reached its shell; false: it did not in time; null: QEMU could not be run (not kept). */
function probe(p: ProbeOptions): Promise<boolean | null> {
  const timeoutMs = p.timeoutMs ?? PROBE_TIMEOUT_MS
  // `timeout` ends the probe even if this process is killed with SIGKILL; the exit hook covers the rest.
  const bounded = hasTimeout()
  const program = bounded ? 'timeout' : p.qemu
  const pre = bounded ? ['-s', 'KILL', String(Math.ceil(timeoutMs / 1000) + 1), p.qemu] : []
  return new Promise((resolve) => {
    const child = spawn(
      program,
      [
        ...pre,
        '-accel',
        'kvm',
        '-nodefaults',
        '-display',
        'none',
        '-m',
        '128',
        '-no-reboot',
        '-kernel',
        p.kernel!,
        '-initrd',
        p.initrd!,
        '-append',
        'console=ttyS0 quiet panic=-1',
        '-serial',
        'stdio',
      ],
      { stdio: ['ignore', 'pipe', 'ignore'], detached: true },
    )
    let out = ''
    // The probe runs in a process group of its own: SIGKILL to the group ends `timeout` and QEMU together
    // (a signal to `timeout` alone is lost if it arrives before timeout has noted its child's pid).
    const end = (): void => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL')
      } catch {
        /* already gone */
      }
    }
    process.once('exit', end)
    const done = (ok: boolean | null): void => {
      clearTimeout(timer)
      process.off('exit', end)
      end()
      resolve(ok)
    }
    const timer = setTimeout(() => done(false), timeoutMs)
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString('latin1')
      if (out.includes(p.marker)) done(true)
    })
    child.once('error', () => done(null))
    // 126/127: `timeout` could not run QEMU at all.
    child.once('exit', (code) => done(bounded && (code === 126 || code === 127) ? null : false))
  })
}
