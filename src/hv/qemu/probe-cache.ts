// The KVM probe's result, kept per host boot: whether KVM works does not change until the host
// reboots (or QEMU/the kernel we probe with change, which are part of the key). Kept in the user's
// cache directory; a boot is named by the kernel's boot_id.
import { readFile, mkdir, rename, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'

export interface KeptProbe {
  accel: 'kvm' | 'tcg'
  note: string
}

interface CacheFile {
  bootId: string
  probes: Record<string, KeptProbe>
}

export function defaultProbeCacheFile(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache')
  return join(base, 'virtuoso', 'kvm-probe.json')
}

export async function bootId(): Promise<string | null> {
  return readFile('/proc/sys/kernel/random/boot_id', 'utf8').then(
    (s) => s.trim() || null,
    () => null,
  )
}

async function load(file: string): Promise<CacheFile | null> {
  try {
    const c = JSON.parse(await readFile(file, 'utf8')) as CacheFile
    return typeof c.bootId === 'string' && c.probes && typeof c.probes === 'object' ? c : null
  } catch {
    return null
  }
}

/** The result kept for `key` in this boot, or null (none, another boot, or no boot id to tell). */
export async function readProbe(key: string, file: string | null = defaultProbeCacheFile()): Promise<KeptProbe | null> {
  const id = await bootId()
  if (!file || !id) return null
  const c = await load(file)
  const hit = c?.bootId === id ? c.probes[key] : undefined
  return hit && (hit.accel === 'kvm' || hit.accel === 'tcg') ? hit : null
}

export async function writeProbe(
  key: string,
  result: KeptProbe,
  file: string | null = defaultProbeCacheFile(),
): Promise<void> {
  const id = await bootId()
  if (!file || !id) return
  const prev = await load(file)
  const probes = prev?.bootId === id ? prev.probes : {}
  probes[key] = { accel: result.accel, note: result.note }
  await mkdir(dirname(file), { recursive: true })
  // Whole or not at all: agents starting together may write at once.
  const tmp = `${file}.${process.pid}.tmp`
  await writeFile(tmp, JSON.stringify({ bootId: id, probes }, null, 1) + '\n')
  await rename(tmp, file)
}
