// Speed shares (report: machines are sold by bogomips) through cgroup v2 `cpu.max`. Hosts where that is
// impossible (no cgroup2, or cgroup2 without the cpu controller, as on hybrid v1/v2 hosts) say so in
// HostInfo instead of pretending.
import { readFile, writeFile, mkdir, rmdir, access } from 'node:fs/promises'
import { join } from 'node:path'

export const CPU_PERIOD_US = 100_000
const GROUP = 'virtuoso-hv'

export interface CpuLimiter {
  kind: 'cgroup' | 'none'
  note: string
  /** Cap `pid` at `share` CPUs (e.g. 0.5 = half a core). No-op when kind is 'none'. */
  apply(id: string, pid: number, share: number): Promise<void>
  remove(id: string): Promise<void>
}

/** A host (or configuration) that enforces no speed share, and says why in `note`. */
export function noCpuLimiter(note: string): CpuLimiter {
  return { kind: 'none', note, apply: async () => {}, remove: async () => {} }
}

export async function detectCpuLimiter(): Promise<CpuLimiter> {
  const none = noCpuLimiter
  let mounts: string
  try {
    mounts = await readFile('/proc/self/mountinfo', 'utf8')
  } catch {
    return none('speed is not enforced: /proc/self/mountinfo is unreadable, so no cgroup can be found')
  }
  const cg2 = mounts
    .split('\n')
    .map((l) => l.split(' - '))
    .filter((p) => p[1]?.startsWith('cgroup2 '))
    .map((p) => p[0].split(' ')[4])
  if (cg2.length === 0)
    return none('speed is not enforced: no cgroup v2 file system is mounted (cpu.max needs cgroup v2)')
  const mount = cg2[0]
  const controllers = (await readFile(join(mount, 'cgroup.controllers'), 'utf8').catch(() => '')).trim().split(/\s+/)
  if (!controllers.includes('cpu')) {
    return none(
      `speed is not enforced: cgroup v2 at ${mount} lacks the cpu controller (available: ` +
        `${controllers.filter(Boolean).join(', ') || 'none'}; on hybrid hosts cpu is bound to cgroup v1)`,
    )
  }
  const self =
    (await readFile('/proc/self/cgroup', 'utf8'))
      .split('\n')
      .find((l) => l.startsWith('0::'))
      ?.slice(3) ?? '/'
  // Our own cgroup holds processes, so (no-internal-process rule) we add a sibling-free child of it.
  const base = join(mount, self, GROUP)
  try {
    await mkdir(base, { recursive: true })
    await writeFile(join(base, 'cgroup.subtree_control'), '+cpu').catch(() => {})
    await access(join(base, 'cgroup.subtree_control'))
    const sub = (await readFile(join(base, 'cgroup.subtree_control'), 'utf8')).trim()
    if (!sub.split(/\s+/).includes('cpu')) throw new Error('cpu controller could not be enabled for children')
  } catch (err) {
    return none(`speed is not enforced: cannot set up ${base} (${(err as Error).message})`)
  }
  return cgroupLimiter(base)
}

/** cpu.max limits under `base`, a cgroup v2 directory with the cpu controller enabled for children. */
export function cgroupLimiter(base: string): CpuLimiter {
  return {
    kind: 'cgroup',
    note: `speed enforced with cgroup v2 cpu.max under ${base}`,
    async apply(id, pid, share) {
      const dir = join(base, id)
      await mkdir(dir, { recursive: true })
      const quota = Math.max(1000, Math.round(share * CPU_PERIOD_US))
      await writeFile(join(dir, 'cpu.max'), `${quota} ${CPU_PERIOD_US}`)
      await writeFile(join(dir, 'cgroup.procs'), String(pid))
    },
    async remove(id) {
      await rmdir(join(base, id)).catch(() => {})
    },
  }
}
