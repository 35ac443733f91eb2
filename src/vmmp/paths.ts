// Names the origin sends are untrusted: a file name must stay inside the machine directory and must
// not collide with our own bookkeeping files (manifest caches, markers, staging).
import { mkdir, rm, stat, writeFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { vmmpError } from './errors.ts'

/** Present while a transfer is rewriting a machine directory: its files are not a valid copy. */
export const INCOMPLETE_MARKER = '.vmmp-incomplete'

/** A file name from a migration manifest, safe to join under the machine directory. */
export function checkName(name: unknown): string {
  if (
    typeof name !== 'string' ||
    name.length === 0 ||
    name.length > 255 ||
    name.includes('\\') ||
    name.includes('\0') ||
    name.startsWith('/')
  )
    throw vmmpError.protocol(`unsafe file name '${String(name).slice(0, 60)}'`)
  for (const seg of name.split('/'))
    if (seg === '' || seg === '.' || seg === '..' || seg.startsWith('.vmmp') || seg.startsWith('.manifest-'))
      throw vmmpError.protocol(`unsafe file name '${name.slice(0, 60)}'`)
  return name
}

export async function markIncomplete(dir: string, migrationId: string): Promise<void> {
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, INCOMPLETE_MARKER), `${migrationId}\n`)
}

export async function clearIncomplete(dir: string): Promise<void> {
  await rm(join(dir, INCOMPLETE_MARKER), { force: true })
}

/** True if a transfer into `dir` started and did not finish: do not import or trust these files. */
export async function isIncomplete(dir: string): Promise<boolean> {
  try {
    await stat(join(dir, INCOMPLETE_MARKER))
    return true
  } catch {
    return false
  }
}

/** Regular files under `dir` (relative), skipping our bookkeeping, for "what else is here" reports. */
export async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  let ents
  try {
    ents = await readdir(join(dir, prefix), { withFileTypes: true })
  } catch {
    return []
  }
  const out: string[] = []
  for (const e of ents) {
    if (e.name.startsWith('.vmmp') || e.name.startsWith('.manifest-')) continue
    const rel = prefix ? `${prefix}/${e.name}` : e.name
    if (e.isDirectory()) out.push(...(await listFiles(dir, rel)))
    else if (e.isFile()) out.push(rel)
  }
  return out
}
