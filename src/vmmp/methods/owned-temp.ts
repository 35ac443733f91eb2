// Temp directories SCP makes on both sides (the origin's one-time sshd config and key, the destination's
// key and pinned host key) carry the PID of the process that made them. A provider killed with SIGKILL
// removes nothing; the next one-time directory this host makes first removes those whose process is
// gone, so such leftovers (a spent one-time key among them) live until the next SCP migration.
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A new 0700 directory `<prefix><pid>-XXXXXX` in `dir`, after the stale ones of that prefix are removed. */
export async function ownedTempDir(prefix: string, dir = tmpdir()): Promise<string> {
  await sweepStale(prefix, dir)
  return mkdtemp(join(dir, `${prefix}${process.pid}-`))
}

/** Removes `<prefix><pid>-*` directories in `dir` whose process no longer exists. */
export async function sweepStale(prefix: string, dir = tmpdir()): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[])
  for (const name of names) {
    const m = name.startsWith(prefix) ? /^(\d+)-/.exec(name.slice(prefix.length)) : null
    if (m && !alive(Number(m[1]))) await rm(join(dir, name), { recursive: true, force: true }).catch(() => {})
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' // someone else's process: not ours to judge
  }
}
