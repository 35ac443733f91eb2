// The authorization suite (issue 11, "Proof"): every market@1 method, for every role (anonymous,
// buyer, other buyer, provider, other provider; the admin's methods are not on market@1 at all),
// against every id another tenant owns, through a real hub over loopback. A refusal must look
// exactly like the answer for an id that exists nowhere, and change nothing. Every answer a role
// gets, and every replicated row, must hold nothing of another tenant's (ids, names, emails, tokens,
// bids), also after a migration away, a deletion and an account switch. Expected: 0 violations.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { authzWorld, ROLES, type AuthzWorld, type Role } from './world.ts'
import { admitted, allMethods, generate, NOT_ON_MARKET, secretsFor, SESSION_ENDING } from './cases.ts'
import type { Change } from '../../src/market/types.ts'

let w: AuthzWorld
const BIDS: Record<string, number[]> = {}
const covered = new Set<string>()
let count = 0
const REFUSED = new Set(['MARKET_AUTH_REQUIRED', 'MARKET_FORBIDDEN', 'MARKET_NOT_FOUND'])

beforeAll(async () => {
  w = await authzWorld()
  for (const vm of w.hub.market.ctx.store.values('vm'))
    if (vm.bidStorage) BIDS[vm.owner] = [vm.bidStorage, vm.bidRunning!]
}, 60_000)
afterAll(async () => {
  console.log(`authorization suite: ${count} cases`)
  await w?.close()
})

/** Everything a refused call must leave as it was (sessions and node liveness aside). */
async function fingerprint(): Promise<string> {
  const s = w.hub.market.ctx.store
  const tables = ['users', 'credentials', 'config', 'vm', 'pm', 'pairings', 'networks', 'migrations', 'images'] as const
  const rows = tables.map((t) => [t, [...s.rows(t)].sort(([a], [b]) => (a < b ? -1 : 1))])
  return JSON.stringify({ rows, ledger: s.seq('ledger'), events: s.seq('events') })
}

async function call(
  role: Role,
  method: string,
  params: unknown,
): Promise<{ ok: unknown } | { code: string; message: string }> {
  try {
    return { ok: await w.clients[role].call(method, params) }
  } catch (err) {
    return { code: (err as { code?: string }).code ?? 'NO_CODE', message: (err as Error).message }
  }
}

/** Another tenant's secrets in `answer`, other than the ids the caller itself sent. */
function leaks(role: Role, answer: unknown, sent: Record<string, unknown> = {}): string[] {
  const text = JSON.stringify(answer)
  const own = new Set(Object.values(sent).map(String))
  return secretsFor(w, role, BIDS).filter((s) => !own.has(s) && text.includes(s))
}

describe('authorization', () => {
  it('every method, every role, every foreign id: refused like a missing id, nothing changed, nothing read', async () => {
    const { cases, unfillable } = generate(w)
    expect(unfillable).toEqual([])
    const bad: string[] = []
    for (const c of cases) {
      count++
      covered.add(c.method.name)
      const tag = `${c.method.name} as ${c.role} ${JSON.stringify(c.foreign)}`
      const before = await fingerprint()
      const got = await call(c.role, c.method.name, c.params)
      const ids = Object.keys(c.foreign).length > 0
      if (ids || !admitted(c.method.auth, c.role, w)) {
        if ('ok' in got) bad.push(`${tag}: accepted`)
        else if (!REFUSED.has(got.code)) bad.push(`${tag}: ${got.code} ${got.message}`)
        if ((await fingerprint()) !== before) bad.push(`${tag}: changed the market`)
      }
      if (ids && admitted(c.method.auth, c.role, w) && !('ok' in got)) {
        // The same call naming ids that exist nowhere must answer the same (code, and message but the id).
        const none = await call(c.role, c.method.name, c.nowhere)
        const strip = (r: Awaited<ReturnType<typeof call>>, p: Record<string, unknown>) =>
          'ok' in r
            ? 'accepted'
            : `${r.code} ${Object.values(p).reduce<string>((m, v) => m.split(String(v)).join('<id>'), r.message)}`
        if (strip(got, c.foreign) !== strip(none, c.nowhere!))
          bad.push(`${tag}: ${strip(got, c.foreign)} != ${strip(none, c.nowhere!)}`)
      }
      const leaked = leaks(c.role, got, c.params)
      if (leaked.length) bad.push(`${tag}: answer holds ${leaked.join(', ')}`)
    }
    expect(bad).toEqual([])
  }, 240_000)

  it('admin and node methods are not served to any market@1 client', async () => {
    const bad: string[] = []
    for (const method of NOT_ON_MARKET)
      for (const role of ROLES) {
        count++
        const before = await fingerprint()
        const got = await call(role, method, {})
        if ('ok' in got || got.code !== 'NODE_UNKNOWN_METHOD') bad.push(`${method} as ${role}: ${JSON.stringify(got)}`)
        if ((await fingerprint()) !== before) bad.push(`${method} as ${role}: changed the market`)
      }
    expect(bad).toEqual([])
  })

  it('replicated rows reach only their audience: snapshot, migration away, deletion, account switch', async () => {
    const m = w.hub.market
    const feeds = {} as Record<Role, Change[]>
    const bad: string[] = []
    const before = Object.fromEntries(ROLES.map((r) => [r, new Set(secretsFor(w, r, BIDS))])) as Record<
      Role,
      Set<string>
    >
    for (const role of ROLES) {
      feeds[role] = []
      await w.clients[role].subscribe(-1, (_kind, rows) => feeds[role].push(...rows))
      count++
    }
    const alice = w.tenants.buyer
    const bob = w.tenants['other buyer']
    const [aliceVm, aliceDraft] = alice.vms
    const [bobVm] = bob.vms
    const [pmA] = w.tenants.provider.pms
    const [pmB] = w.tenants['other provider'].pms
    // A migration away: alice's machine leaves provider A for provider B (the market's commit).
    await m.stop(alice, aliceVm)
    const mig = await m.beginMigration(alice, { vmId: aliceVm, to: pmB, method: 'RSYNC' })
    await m.commitMigration(mig.id, mig.version + 1)
    // A deletion: bob deletes his stored machine; alice deletes her draft.
    await m.stop(bob, bobVm)
    await m.delete(bob, bobVm)
    await m.delete(alice, aliceDraft)
    // A change every feed carries (provider machines are public) marks the end of what it will get.
    await m.pmEdit(w.tenants.provider, pmA, { name: 'end-marker' })
    await until(() => ROLES.every((r) => feeds[r].some((c) => JSON.stringify(c.value ?? null).includes('end-marker'))))
    for (const role of ROLES) {
      count++
      // An id is another tenant's if the role may see it neither before nor after the moves above.
      const secret = new Set(secretsFor(w, role, BIDS))
      const leaked = leaksIn(
        feeds[role],
        [...before[role]].filter((s) => secret.has(s)),
      )
      if (leaked.length) bad.push(`${role}'s feed holds ${leaked.join(', ')}`)
    }
    // Provider A's last word on alice's machine is a deletion, and it never saw it on B.
    const aSaw = feeds.provider.filter((c) => c.table === 'vm' && c.key === aliceVm)
    if (aSaw.at(-1)?.value !== null) bad.push('provider A still holds the machine that left it')
    if (aSaw.some((c) => c.value && (c.value as { pmId?: string }).pmId !== pmA)) bad.push('provider A saw it on B')
    const bSaw = feeds['other provider'].filter((c) => c.table === 'vm' && c.key === aliceVm && c.value)
    if ((bSaw.at(-1)?.value as { pmId?: string } | undefined)?.pmId !== pmB) bad.push('provider B never got it')
    for (const [role, vm] of [
      ['buyer', bobVm],
      ['provider', bobVm],
      ['other buyer', aliceDraft],
      ['provider', aliceDraft],
      ['other provider', aliceDraft],
      ['anonymous', aliceDraft],
    ] as const)
      if (feeds[role].some((c) => c.key === vm)) bad.push(`${role} heard of ${vm.slice(0, 8)}'s deletion`)
    count++
    // The account switch: alice logs out on her connection; nothing of hers follows on it, and the
    // same connection subscribed as bob sees nothing of alice's.
    const conn = await w.client(alice.token)
    const seen: Change[] = []
    await conn.subscribe(-1, (_k, rows) => seen.push(...rows))
    await conn.call('logout')
    covered.add('logout')
    count++
    const after = seen.length
    await m.credit('alice', 1)
    await m.netCreate(alice, { name: 'net-after-logout' })
    const ended = await conn.call('whoami').then(
      () => 'still logged in',
      (e) => (e as { code: string }).code,
    )
    if (ended !== 'MARKET_AUTH_REQUIRED') bad.push(`after logout, whoami: ${ended}`)
    if (seen.length !== after) bad.push(`${seen.length - after} rows reached alice's ended session`)
    const bobLogin = await m.login({ username: 'bob', password: 'correct horse battery' })
    conn.token = bobLogin.token
    const asBob: Change[] = []
    await conn.subscribe(-1, (_k, rows) => asBob.push(...rows))
    await m.netCreate(alice, { name: 'net-after-switch' })
    await m.netCreate(bob, { name: 'net-of-bob-2' })
    await until(() => asBob.some((c) => JSON.stringify(c).includes('net-of-bob-2')))
    count++
    const aliceOnly = [
      alice.email,
      ...alice.nets,
      'net-after-logout',
      'net-after-switch',
      aliceVm,
      String(BIDS.alice[0]),
    ]
    const leaked = aliceOnly.filter((s) => JSON.stringify(asBob).includes(s))
    if (leaked.length) bad.push(`after the switch bob's feed holds ${leaked.join(', ')}`)
    await conn.close()
    expect(bad).toEqual([])
    for (const m of allMethods()) if (SESSION_ENDING.has(m.name)) expect(covered).toContain(m.name)
  }, 60_000)

  it('every method of the table has cases', () => {
    for (const m of allMethods()) expect(covered, `${m.name} has no case`).toContain(m.name)
  })
})

function leaksIn(rows: Change[], secrets: string[]): string[] {
  const text = JSON.stringify(rows)
  return secrets.filter((s) => text.includes(s))
}

/** Waits for `pred` on the next turns of the event loop (the feed arrives over the network). */
async function until(pred: () => boolean): Promise<void> {
  while (!pred()) await new Promise((r) => setTimeout(r, 10))
}
