import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { privateDir, writeOnceAtomic } from '../../src/secret-file.ts'
import { loadHostKey } from '../../src/console/ssh.ts'
import { loadIdentity } from '../../src/net/identity.ts'

const dirs: string[] = []
const fresh = async () => {
  const d = await mkdtemp(join(tmpdir(), 'vsecret-'))
  dirs.push(d)
  return d
}
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true })
})

describe('secrets made once', () => {
  it('many concurrent writers agree on one whole content and leave no temporary file', async () => {
    const dir = await fresh()
    const file = join(dir, 'secret')
    const got = await Promise.all(Array.from({ length: 20 }, (_, i) => writeOnceAtomic(file, `content-${i}\n`)))
    const kept = await readFile(file, 'utf8')
    expect(new Set(got)).toEqual(new Set([kept]))
    expect(await readdir(dir)).toEqual(['secret'])
  })

  it('concurrent host key loads on a new data directory all get the same usable key', async () => {
    for (let round = 0; round < 20; round++) {
      const dir = await fresh()
      const keys = await Promise.all([loadHostKey(dir), loadHostKey(dir), loadHostKey(dir)])
      expect(new Set(keys.map((k) => k.fingerprint)).size).toBe(1)
    }
  })

  it('concurrent identity loads on a new data directory all get the same key pair', async () => {
    const dir = await fresh()
    const ids = await Promise.all(Array.from({ length: 5 }, () => loadIdentity(dir)))
    expect(new Set(ids.map((k) => k.publicKey.toString('hex'))).size).toBe(1)
  })

  it('a data directory that already exists with wider rights is made private (issue 11, item 9)', async () => {
    const dir = join(await fresh(), 'data')
    await mkdir(dir, { mode: 0o755 })
    await chmod(dir, 0o755)
    await privateDir(dir)
    expect((await stat(dir)).mode & 0o777).toBe(0o700)
    await loadIdentity(dir) // the node's own path goes through it too
    await chmod(dir, 0o755)
    await loadIdentity(dir)
    expect((await stat(dir)).mode & 0o777).toBe(0o700)
  })
})
