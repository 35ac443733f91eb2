// Time to a shell on the serial console through the whole CLI: `virtuoso start VMID --console` on a
// machine whose disk came from a catalog image, until a command typed there answers (the busybox
// prompt of `linux`, root's autologin shell of `debian-12`, both after the login prompt), beside bare
// qemu-system-x86_64 booting the same image file from a raw disk (hv-bench.ts), in the same run.
// Where the time goes: at the shell each side also reports the guest's own uptime (seconds since its
// kernel started: the rest of the wall time is the host's part, firmware and QEMU start included) and,
// on systemd guests, `systemd-analyze` (kernel vs userspace, the slowest units). Best effort: a long
// line typed into a busy TCG guest's serial port can lose characters, and the row keeps its wall time.
import { spawnVirtuoso } from '../../src/cli/child.ts'
import { bare } from './hv-bench.ts'

/** The guest's view, run at its shell: uptime, then systemd-analyze where there is one. */
export const GUEST_REPORT =
  `echo "up""=$(cut -d' ' -f1 /proc/uptime)"; ` +
  `command -v systemd-analyze >/dev/null && systemd-analyze time --no-pager | head -1 && ` +
  `systemd-analyze blame --no-pager | head -5`

export interface BootTimes {
  ms: number
  /** The guest's uptime when its shell answered, in seconds. */
  uptime: number
  /** systemd-analyze lines (empty on busybox). */
  analyze: string[]
}

/** Types a command until its output arrives: keys typed while the guest is still booting are dropped. */
export async function startToShell(vm: string, env: Record<string, string>): Promise<BootTimes> {
  const t = performance.now()
  const p = spawnVirtuoso(['start', vm, '--console'], { env })
  try {
    for (let i = 0; ; i++) {
      if (i > 600) throw new Error(`no shell on ${vm}'s console: ${p.lines.join('\n').slice(-400)}`)
      p.proc.stdin?.write('echo "boot""-ok"\r')
      const ok = await p.waitFor(/boot-ok/, 1000).then(
        () => true,
        () => false,
      )
      if (ok) break
    }
    const ms = performance.now() - t
    const from = p.lines.length
    p.proc.stdin?.write(`${GUEST_REPORT}; echo "report""-done"\r`)
    const done = await p.waitFor(/report-done/, 60_000).then(
      () => true,
      () => false,
    )
    const report = done ? p.lines.slice(from) : []
    p.proc.stdin?.write(Buffer.from([0x1d])) // Ctrl-] detaches, the machine keeps running
    await p.proc
    return parseReport(ms, report.join('\n'))
  } finally {
    await p.stop()
  }
}

export async function bareToShell(os: string, memory: number): Promise<BootTimes> {
  const b = await bare(os, memory, GUEST_REPORT)
  return parseReport(b.boot, b.report ?? '')
}

export function parseReport(ms: number, text: string): BootTimes {
  const lines = text.replace(/\r/g, '').split('\n')
  const uptime = Number(/up=([\d.]+)/.exec(text)?.[1] ?? NaN)
  const unit = /Startup finished|^\s*\d[\d.]*(ms|s|min)\s+\S+\.(service|mount|device|target)|\S+ @\d/
  const analyze = lines.filter((l) => unit.test(l))
  return { ms, uptime, analyze: analyze.map((l) => l.trim()) }
}
