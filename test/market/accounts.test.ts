import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { world, codeOf, DAY, type World } from './helpers.ts'
import { rm } from 'node:fs/promises'
import { Market } from '../../src/market/market.ts'
import { DEFAULT_SCRYPT_N } from '../../src/scrypt.ts'
import { TEST_SCRYPT_N } from '../scrypt-cost.ts'

describe('accounts', () => {
  let w: World
  beforeEach(async () => {
    w = await world()
  })
  afterEach(async () => {
    await w.close()
  })

  it('signs up with balance 0 and no secret in the user row', async () => {
    const u = await w.market.signup({ username: 'alice', type: 'buyer', email: 'a@example.org', password: 'password1' })
    expect(u.balance).toBe(0)
    expect(JSON.stringify(w.market.db.get('users', 'alice'))).not.toMatch(/hash|salt|password/)
    expect(w.market.db.get('credentials', 'alice')?.hash).toMatch(/^[0-9a-f]{64}$/)
  })

  it('validates username, type, email and password', async () => {
    const ok = { username: 'bob', type: 'buyer' as const, email: 'b@example.org', password: 'password1' }
    for (const bad of [
      { username: 'B' },
      { username: 'a b' },
      { username: 'x'.repeat(33) },
      { type: 'admin' },
      { email: 'nope' },
      { password: 'short' },
    ]) {
      expect(await codeOf(() => w.market.signup({ ...ok, ...bad } as any))).toBe('MARKET_BAD_INPUT')
    }
    await w.market.signup(ok)
    expect(await codeOf(() => w.market.signup(ok))).toBe('MARKET_USER_EXISTS')
  })

  it('logs in with a 256-bit token stored only hashed, and authenticates it', async () => {
    await w.market.signup({ username: 'carol', type: 'provider', email: 'c@example.org', password: 'password1' })
    expect(await codeOf(() => w.market.login({ username: 'carol', password: 'wrongpass' }))).toBe(
      'MARKET_BAD_CREDENTIALS',
    )
    expect(await codeOf(() => w.market.login({ username: 'nobody', password: 'password1' }))).toBe(
      'MARKET_BAD_CREDENTIALS',
    )
    const { token, expires } = await w.market.login({ username: 'carol', password: 'password1' })
    expect(token).toMatch(/^[0-9a-f]{64}$/)
    expect(expires).toBe(w.clock.t + 7 * DAY)
    expect([...w.market.db.rows('sessions').keys()]).not.toContain(token)
    expect(w.market.authenticate(token)).toMatchObject({ username: 'carol', type: 'provider' })
    expect(await codeOf(() => w.market.authenticate('f'.repeat(64)))).toBe('MARKET_AUTH_REQUIRED')
    expect(await codeOf(() => w.market.authenticate('garbage'))).toBe('MARKET_AUTH_REQUIRED')
  })

  it('expires sessions and logs out', async () => {
    await w.market.signup({ username: 'dave', type: 'buyer', email: 'd@example.org', password: 'password1' })
    const a = await w.market.login({ username: 'dave', password: 'password1', ttlMs: 1000 })
    w.clock.t += 1000
    expect(await codeOf(() => w.market.authenticate(a.token))).toBe('MARKET_SESSION_EXPIRED')
    const b = await w.market.login({ username: 'dave', password: 'password1' })
    const who = w.market.authenticate(b.token)
    await w.market.logout(who)
    expect(await codeOf(() => w.market.authenticate(b.token))).toBe('MARKET_AUTH_REQUIRED')
  })

  it('caps the session lifetime a client asks for at the hub lifetime (issue 11, item 8)', async () => {
    await w.market.signup({ username: 'fay', type: 'buyer', email: 'f@example.org', password: 'password1' })
    const long = await w.market.login({ username: 'fay', password: 'password1', ttlMs: 100 * 365 * DAY })
    expect(long.expires).toBe(w.clock.t + 7 * DAY)
    w.clock.t += 7 * DAY
    expect(await codeOf(() => w.market.authenticate(long.token))).toBe('MARKET_SESSION_EXPIRED')
    const short = await w.market.login({ username: 'fay', password: 'password1', ttlMs: 60_000 })
    expect(short.expires).toBe(w.clock.t + 60_000)
  })

  it('keeps sessions across a restart', async () => {
    await w.market.signup({ username: 'erin', type: 'buyer', email: 'e@example.org', password: 'password1' })
    const { token } = await w.market.login({ username: 'erin', password: 'password1' })
    await w.reopen()
    expect(w.market.authenticate(token).username).toBe('erin')
    expect(w.market.whoami({ username: 'erin', type: 'buyer' }).email).toBe('e@example.org')
  })

  it('hashes at 2^17 unless told otherwise, and refuses a cost that is no power of two (issue 11, item 8)', async () => {
    const m = await Market.open({ dir: w.dir + '-default', gateway: w.gateway })
    try {
      expect(m.ctx.scrypt).toEqual({ N: DEFAULT_SCRYPT_N, r: 8, p: 1 })
      expect(DEFAULT_SCRYPT_N).toBe(2 ** 17)
    } finally {
      await m.close()
      await rm(w.dir + '-default', { recursive: true, force: true })
    }
    for (const N of [1000, 512, 2 ** 21])
      expect(await codeOf(() => Market.open({ dir: w.dir + '-bad', gateway: w.gateway, scryptN: N }))).toBe(
        'NODE_CONFIG',
      )
  })

  it('rehashes an older, cheaper hash when its owner logs in with the right password (issue 11, item 8)', async () => {
    await w.market.signup({ username: 'gil', type: 'buyer', email: 'g@example.org', password: 'password1' })
    const old = w.market.db.get('credentials', 'gil')!
    expect(old.N).toBe(TEST_SCRYPT_N)
    await w.reopen(TEST_SCRYPT_N * 2) // the operator raised the cost
    expect(await codeOf(() => w.market.login({ username: 'gil', password: 'wrongpass' }))).toBe(
      'MARKET_BAD_CREDENTIALS',
    )
    expect(w.market.db.get('credentials', 'gil')).toEqual(old) // a wrong password changes nothing
    await w.market.login({ username: 'gil', password: 'password1' })
    const now = w.market.db.get('credentials', 'gil')!
    expect(now.N).toBe(TEST_SCRYPT_N * 2)
    expect(now.salt).not.toBe(old.salt)
    expect(now.hash).not.toBe(old.hash)
    await w.reopen(TEST_SCRYPT_N * 2) // the new hash is on disk and opens the account
    expect((await w.market.login({ username: 'gil', password: 'password1' })).identity.username).toBe('gil')
    expect(w.market.db.get('credentials', 'gil')).toEqual(now) // no rehash when the cost is current
    await w.reopen(TEST_SCRYPT_N) // lowering the cost never weakens a stored hash
    await w.market.login({ username: 'gil', password: 'password1' })
    expect(w.market.db.get('credentials', 'gil')).toEqual(now)
  })
})
