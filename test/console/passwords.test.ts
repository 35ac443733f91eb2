// Console passwords on the provider (issue 11, item 8): scrypt at 2^17 unless told otherwise, an older
// cheaper hash redone at the next right password, and at most a few hashes at once.
import { afterEach, beforeEach, expect, it } from 'vitest'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConsolePasswords } from '../../src/console/passwords.ts'
import { DEFAULT_SCRYPT_N } from '../../src/scrypt.ts'
import { TEST_SCRYPT_N } from '../scrypt-cost.ts'

const VM = 'vm-00000001'
let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'virtuoso-pw-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

const stored = async () => (await readFile(join(dir, `${VM}.scrypt`), 'utf8')).trim().split('$')

it('hashes at 2^17 by default', () => {
  expect(new ConsolePasswords(dir).cost).toEqual({ N: DEFAULT_SCRYPT_N, r: 8, p: 1 })
  expect(() => new ConsolePasswords(dir, { scryptN: 3000 })).toThrow(expect.objectContaining({ code: 'NODE_CONFIG' }))
})

it('rehashes an older hash at the next right password, never at a wrong one', async () => {
  await new ConsolePasswords(dir, { scryptN: TEST_SCRYPT_N }).set(VM, 'console-pass-1')
  const old = await stored()
  expect(old.slice(0, 4)).toEqual(['scrypt', String(TEST_SCRYPT_N), '8', '1'])
  const raised = new ConsolePasswords(dir, { scryptN: TEST_SCRYPT_N * 2 })
  expect(await raised.verify(VM, 'console-pass-2')).toBe(false)
  expect(await stored()).toEqual(old)
  expect(await raised.verify(VM, 'console-pass-1')).toBe(true)
  const now = await stored()
  expect(now[1]).toBe(String(TEST_SCRYPT_N * 2))
  expect(now[4]).not.toBe(old[4]) // a new salt
  expect(await raised.verify(VM, 'console-pass-1')).toBe(true)
  expect(await raised.verify(VM, 'console-pass-2')).toBe(false)
  // A node set to a lower cost keeps the stronger hash.
  expect(await new ConsolePasswords(dir, { scryptN: TEST_SCRYPT_N }).verify(VM, 'console-pass-1')).toBe(true)
  expect(await stored()).toEqual(now)
})

it('runs a bounded number of hashes at once and refuses the rest with NODE_BUSY', async () => {
  const pw = new ConsolePasswords(dir, { scryptN: TEST_SCRYPT_N, jobs: 1, queue: 1 })
  await pw.set(VM, 'console-pass-1')
  const tries = await Promise.allSettled([1, 2, 3].map(() => pw.verify(VM, 'console-pass-1')))
  expect(tries.filter((t) => t.status === 'fulfilled' && t.value === true)).toHaveLength(2)
  expect(tries.filter((t) => t.status === 'rejected').map((t) => (t as PromiseRejectedResult).reason.code)).toEqual([
    'NODE_BUSY',
  ])
})
