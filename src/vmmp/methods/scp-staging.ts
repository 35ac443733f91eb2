// SCP's staging on the destination: files arrive in `destDir/.vmmp-staging-<migration>/`, made as holes
// of their full size (blocks never written stay unallocated), and are renamed into place only after
// every block was verified and each file fsynced; a failure deletes the staging directory and leaves
// the previous copy intact.
import { mkdir, open, rename, rm, statfs, type FileHandle } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fsError, vmmpError } from '../errors.ts'
import { invalidateManifests, saveManifest, type FileManifest } from '../manifest.ts'
import { clearIncomplete, markIncomplete } from '../paths.ts'

/** A fresh staging directory with room for `total` bytes and each file made as a hole of its size. */
export async function openStaging(
  staging: string,
  dir: string,
  files: FileManifest[],
  total: number,
  openFile: (path: string, flags: string) => Promise<FileHandle> = open,
): Promise<FileHandle[]> {
  await rm(staging, { recursive: true, force: true })
  try {
    await mkdir(staging, { recursive: true })
    const s = await statfs(staging)
    if (s.bavail * s.bsize < total * 1.01) throw vmmpError.noSpace(dir)
  } catch (err) {
    throw fsError('preparing', staging, err)
  }
  const handles: FileHandle[] = []
  for (const f of files) {
    const path = join(staging, f.name)
    try {
      await mkdir(dirname(path), { recursive: true })
      const fh = await openFile(path, 'w')
      handles.push(fh)
      await fh.truncate(f.size) // a hole: blocks we skip stay unallocated
    } catch (err) {
      await Promise.all(handles.map((h) => h.close().catch(() => {})))
      throw fsError('creating', path, err)
    }
  }
  return handles
}

/** The staged files swapped in under one marker; the caller has fsynced them (flusher.ts's finish).
 *  Every non-zero block was hashed as it arrived and matched the hash list, whose root is checked; the
 *  rest are holes of a fresh file.
 *  So the files hold what the root names, and reading them back (from the page cache, not the disk)
 *  proved nothing more: it cost a fully random 2048 MB disk 11 s of the verify phase here at load ~20. */
export async function commitStaging(
  staging: string,
  dir: string,
  files: FileManifest[],
  handles: FileHandle[],
  o: { migrationId: string; version: number },
): Promise<void> {
  const arrived: FileManifest[] = await Promise.all(
    files.map(async (f, i) => {
      const st = await handles[i].stat().catch((err) => {
        throw fsError('checking', join(staging, f.name), err)
      })
      if (st.size !== f.size) throw vmmpError.corrupt(`${f.name} is ${st.size} bytes, the origin has ${f.size}`)
      return { name: f.name, size: f.size, root: f.root, hashes: f.hashes, mtimeMs: st.mtimeMs, ino: st.ino }
    }),
  )
  await markIncomplete(dir, o.migrationId)
  await invalidateManifests(dir)
  for (const f of files) {
    const to = join(dir, f.name)
    await mkdir(dirname(to), { recursive: true })
    await rename(join(staging, f.name), to) // keeps inode and mtime, so `arrived` stays a valid cache entry
  }
  await saveManifest(dir, { version: o.version, files: arrived })
  await clearIncomplete(dir)
}
