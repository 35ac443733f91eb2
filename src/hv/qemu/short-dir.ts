// Unix socket paths are limited to ~107 bytes, so a deep machine directory is reached through a short
// symlink named by a hash of the directory (this process and a restarted agent find the same one).
// The links live in a directory only this user can write, `<tmp>/virtuoso-<uid>` (mode 0700, ours,
// not a symlink), never directly in the shared temp directory: there another local user could swap
// the link between our remove and our symlink and point our QMP socket at theirs. When that
// directory is not what we made (someone else's, open to others, a link), it is not used: links go
// to a fresh private directory made with mkdtemp (O_EXCL) for this process instead.
import { createHash } from 'node:crypto'
import { lstat, mkdir, mkdtemp, readlink, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Paths at most this long are used as they are. */
export const SHORT_DIR_MAX = 80

const fallback = new Map<string, Promise<string>>()

/** True when `dir` is a real directory owned by this user that no one else may enter or write. */
export async function isPrivateDir(dir: string): Promise<boolean> {
  const st = await lstat(dir).catch(() => null)
  if (!st || !st.isDirectory() || st.isSymbolicLink()) return false
  return st.uid === process.getuid!() && (st.mode & 0o077) === 0
}

/** The private directory that holds this user's short links under `tmp`. */
export async function linkDir(tmp = tmpdir()): Promise<string> {
  const dir = join(tmp, `virtuoso-${process.getuid!()}`)
  await mkdir(dir, { mode: 0o700 }).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'EEXIST') throw e
  })
  if (await isPrivateDir(dir)) return dir
  let made = fallback.get(tmp)
  if (!made) fallback.set(tmp, (made = mkdtemp(join(tmp, 'virtuoso-private-'))))
  return made
}

export async function shortDir(dir: string, tmp = tmpdir()): Promise<string> {
  if (dir.length <= SHORT_DIR_MAX) return dir
  const link = join(await linkDir(tmp), `hv-${createHash('sha256').update(dir).digest('hex').slice(0, 16)}`)
  // Only this user writes here, so the remove-then-link below cannot be raced by another one.
  if ((await readlink(link).catch(() => null)) === dir) return link
  await rm(link, { force: true })
  try {
    await symlink(dir, link)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
  }
  return link
}
