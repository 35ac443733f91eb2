// Replacing a whole store at once (`admin import`). The new store is built beside the old one, in
// `DIR.import`, and only a complete, checked store is swapped in: `DIR` moves to `DIR.replaced`,
// `DIR.import` moves to `DIR`, then `DIR.replaced` is removed. A process killed while building
// leaves `DIR` as it was (the next import clears the staging). Killed between the two renames, it
// leaves no `DIR` but a `DIR.replaced`: `settleSwap` (run by every Store.open) puts it back.
import { open, rename, rm, stat } from 'node:fs/promises'
import { dirname } from 'node:path'

export const stagingDir = (dir: string) => `${dir}.import`
export const replacedDir = (dir: string) => `${dir}.replaced`

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    (err) => {
      if (err.code === 'ENOENT') return false
      throw err
    },
  )
}

/** Finishes or undoes a swap that a crash cut short. */
export async function settleSwap(dir: string): Promise<void> {
  const replaced = replacedDir(dir)
  if (!(await exists(replaced))) return
  if (await exists(dir)) await rm(replaced, { recursive: true, force: true })
  else await rename(replaced, dir)
}

/**
 * Moves the complete store `staged` into `dir`, replacing whatever `dir` held. `release` runs
 * between the renames and the removal of the old store: the caller closes the old store there,
 * having held it open (and so locked) until the new one was in place.
 */
export async function swapIn(dir: string, staged: string, release: () => Promise<void>): Promise<void> {
  const replaced = replacedDir(dir)
  const had = await exists(dir)
  if (had) await rename(dir, replaced)
  try {
    await rename(staged, dir)
  } catch (err) {
    if (had) await rename(replaced, dir)
    throw err
  }
  await syncDir(dirname(dir)) // the renames themselves survive a machine crash
  await release()
  if (had) await rm(replaced, { recursive: true, force: true })
}

async function syncDir(path: string): Promise<void> {
  const fh = await open(path, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}
