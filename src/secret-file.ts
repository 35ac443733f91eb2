// A secret a node makes once (its identity, its SSH host key) must appear whole or not at all: a
// file created with `wx` and filled afterwards is read empty by a second caller in that window
// (measured: 1 start in 10 died with "Malformed OpenSSH private key"). So the content is written to a
// private temporary file first and linked into place; `link` fails with EEXIST if another caller won,
// and then theirs is read back and used.
import { chmod, link, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'

/** Writes `content` to `file` (mode 0600) unless it exists; returns what the file holds afterwards. */
export async function writeOnceAtomic(file: string, content: string): Promise<string> {
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`
  await writeFile(tmp, content, { mode: 0o600, flag: 'wx' })
  try {
    await link(tmp, file)
    return content
  } catch (err: any) {
    if (err.code !== 'EEXIST') throw err
    return await readFile(file, 'utf8')
  } finally {
    await rm(tmp, { force: true })
  }
}

/** Makes `dir` (and its parents) and forces it to mode 0700: `mkdir`'s mode applies only to a
 *  directory it creates, so one that already existed with wider rights used to stay open (issue 11,
 *  item 9). A directory that is not ours (chmod refused) is an error, not silence. */
export async function privateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 })
  await chmod(dir, 0o700)
}
