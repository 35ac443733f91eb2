// vmmp/methods/owned-temp.ts: one-time directories of a process that is gone (a provider killed with
// SIGKILL) are removed when the next one is made; those of live processes stay.
import { afterAll, beforeAll, expect, it } from 'vitest'
import { execa } from 'execa'
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ownedTempDir } from '../../src/vmmp/methods/owned-temp.ts'

let root: string
beforeAll(async () => (root = await mkdtemp(join(tmpdir(), 'virtuoso-owned-'))))
afterAll(() => rm(root, { recursive: true, force: true }))

it('removes the directories of gone processes, keeps live ones, and makes its own as 0700', async () => {
  const exited = execa('true')
  await exited
  const gone = exited.pid! // exited and reaped: its PID names no process now
  const sleeper = execa('sleep', ['30'])
  try {
    const dead = join(root, `p-${gone}-abc`)
    await mkdir(dead)
    await writeFile(join(dead, 'key'), 'a spent one-time key')
    for (const pid of [process.pid, sleeper.pid!]) await mkdir(join(root, `p-${pid}-def`))
    await mkdir(join(root, 'p-notapid'))
    await mkdir(join(root, `other-${gone}-x`))
    const mine = await ownedTempDir('p-', root)
    expect(mine.startsWith(join(root, `p-${process.pid}-`))).toBe(true)
    expect((await stat(mine)).mode & 0o777).toBe(0o700)
    expect((await readdir(root)).sort()).toEqual(
      [
        `p-${process.pid}-def`,
        `p-${sleeper.pid}-def`,
        'p-notapid',
        `other-${gone}-x`,
        mine.slice(root.length + 1),
      ].sort(),
    )
  } finally {
    sleeper.kill()
    await sleeper.catch(() => {})
  }
})
