// Export files (src/hub/export-file.ts): export → import → export gives the same tables; a file that
// was changed, does not balance, or goes into a running or non-empty hub is refused and changes
// nothing; `verify` names each account whose balance is not its ledger; a swap cut between its two
// renames is undone at the next open.
import { afterEach, describe, expect, it } from 'vitest'
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { addPm, codeOf, HOUR, user, world, type World } from '../market/helpers.ts'
import { exportFile, exportStopped, importFile, snapshotAdminCall, verifyStopped } from '../../src/hub/export-file.ts'
import { formatHeader, HEADER_BYTES, parseHeader } from '../../src/market/snapshot.ts'
import { Market } from '../../src/market/market.ts'
import { Store } from '../../src/market/store.ts'
import { FakeGateway } from '../market/helpers.ts'
import { ImageStore } from '../../src/vmmp/image-store.ts'
import { TEST_SCRYPT_N } from '../scrypt-cost.ts'

const worlds: World[] = []
const dirs: string[] = []
afterEach(async () => {
  for (const w of worlds.splice(0)) await w.close()
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true })
})

async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'virtuoso-export-'))
  dirs.push(d)
  return d
}

/** A market with accounts, a stored and a started machine, sessions and a few billing passes. */
async function busyMarket(): Promise<{ w: World; token: string; vmId: string }> {
  const w = await world()
  worlds.push(w)
  const prov = await user(w.market, 'prov', 'provider')
  const buyer = await user(w.market, 'buyer', 'buyer')
  const pm = await addPm(w.market, prov)
  await w.market.credit('buyer', 50_000_000)
  const vm = await w.market.register(buyer, { config: 'small' })
  await w.market.store(buyer, vm.id, pm.id)
  const other = await w.market.register(buyer, { config: 'small' })
  await w.market.store(buyer, other.id, pm.id)
  await w.market.start(buyer, other.id)
  for (let i = 0; i < 3; i++) {
    w.clock.t += HOUR
    await w.market.billingPass()
  }
  const { token } = await w.market.login({ username: 'buyer', password: 'correct horse' })
  return { w, token, vmId: vm.id }
}

/** Rewrites a file's header for a changed body, as someone covering their tracks would. */
async function reseal(file: string, body: string): Promise<void> {
  const h = parseHeader((await readFile(file, 'utf8')).slice(0, HEADER_BYTES)) as any
  const sha256 = createHash('sha256').update(body).digest('hex')
  await writeFile(file, formatHeader({ ledgerSeq: h.ledgerSeq, rows: h.rows, sha256 }) + body)
}

describe('export file', () => {
  it('export → import → export gives identical tables, and the imported hub serves them', async () => {
    const { w, token, vmId } = await busyMarket()
    const d = await tmp()
    const first = await exportFile(w.market.db, join(d, 'a.jsonl'))
    expect(first.ledgerSeq).toBe(w.market.db.seq('ledger'))
    expect(first.ledgerSeq).toBeGreaterThan(3) // the deposit and the charges

    const hub = join(d, 'new', 'hub')
    const imported = await importFile(hub, first.file)
    expect(imported).toMatchObject({ rows: first.rows, ledgerSeq: first.ledgerSeq, accounts: 2 })
    const again = await exportStopped(hub, join(d, 'b.jsonl'))
    expect(await readFile(again.file, 'utf8')).toBe(await readFile(first.file, 'utf8'))
    expect(again.sha256).toBe(first.sha256)

    const m = await Market.open({
      dir: hub,
      gateway: new FakeGateway(),
      clock: () => w.clock.t,
      scryptN: TEST_SCRYPT_N,
    })
    try {
      expect(m.authenticate(token).username).toBe('buyer')
      expect(m.db.get('vm', vmId)).toEqual(w.market.db.get('vm', vmId))
      expect(m.db.get('users', 'buyer')).toEqual(w.market.db.get('users', 'buyer'))
      expect((await m.audit()).ok).toBe(true)
      expect((await m.logAll()).map((e) => e.type)).toEqual(
        expect.arrayContaining(['user.signup', 'pm.add', 'account.credit', 'vm.register', 'vm.store']),
      )
    } finally {
      await m.close()
    }
    expect((await verifyStopped(hub)).differences).toEqual([])
  })

  it('names the catalog images the hub serves whose files are not beside the imported hub', async () => {
    const { w } = await busyMarket()
    const d = await tmp()
    await writeFile(join(d, 'os.img'), Buffer.alloc(256 * 1024, 7))
    const { digest, size } = await new ImageStore(join(d, 'old', 'images')).import(join(d, 'os.img'))
    await w.market.addHubImage({ name: 'os1', os: 'os1', size, digest })
    const file = (await exportFile(w.market.db, join(d, 'a.jsonl'))).file
    // The export holds the tables, not the files: a new data directory lacks the image...
    expect((await importFile(join(d, 'bare', 'hub'), file)).missingImages).toEqual([{ name: 'os1', digest }])
    // ...and a data directory with the image's store copied over has it.
    await new ImageStore(join(d, 'full', 'images')).import(join(d, 'os.img'))
    expect((await importFile(join(d, 'full', 'hub'), file)).missingImages).toEqual([])
  })

  it('refuses a file with one amount changed, and one whose ledger does not balance, changing nothing', async () => {
    const { w } = await busyMarket()
    const d = await tmp()
    const { file } = await exportFile(w.market.db, join(d, 'a.jsonl'))
    const text = await readFile(file, 'utf8')
    const body = text.slice(HEADER_BYTES)
    const charge = body.split('\n').find((l) => l.startsWith('{"table":"ledger"') && l.includes('"kind":"running"'))!
    const amount = JSON.parse(charge).value.amount as number
    const changed = body.replace(charge, charge.replace(`"amount":${amount},`, `"amount":${amount + 1},`))
    expect(changed).not.toBe(body)

    const hub = join(d, 'target', 'hub')
    const edited = join(d, 'edited.jsonl')
    await writeFile(edited, text.slice(0, HEADER_BYTES) + changed)
    expect(await codeOf(() => importFile(hub, edited))).toBe('MARKET_EXPORT_INVALID')
    await expect(stat(hub)).rejects.toMatchObject({ code: 'ENOENT' }) // as it was: no hub at all
    await expect(stat(`${hub}.import`)).rejects.toMatchObject({ code: 'ENOENT' })

    // The same change with a digest made to match: the replay still finds it, and names the accounts.
    await reseal(edited, changed)
    const err: any = await importFile(hub, edited).catch((e) => e)
    expect(err.code).toBe('MARKET_UNBALANCED')
    expect(err.message).toMatch(/buyer: balance \d+, ledger \d+/)
    await expect(stat(hub)).rejects.toMatchObject({ code: 'ENOENT' })

    // A ledger entry dropped (rows and seq in the header made to agree) is a gap.
    const lines = body.split('\n')
    const dropped = lines.filter((l) => l !== charge).join('\n')
    await writeFile(edited, text.slice(0, HEADER_BYTES) + dropped)
    const h = parseHeader(text.slice(0, HEADER_BYTES)) as any
    await writeFile(
      edited,
      formatHeader({
        ledgerSeq: h.ledgerSeq,
        rows: h.rows - 1,
        sha256: createHash('sha256').update(dropped).digest('hex'),
      }) + dropped,
    )
    expect(await codeOf(() => importFile(hub, edited))).toBe('MARKET_UNBALANCED')

    await writeFile(edited, 'not an export\n')
    expect(await codeOf(() => importFile(hub, edited))).toBe('MARKET_EXPORT_INVALID')
    expect(await codeOf(() => importFile(hub, join(d, 'missing.jsonl')))).toBe('MARKET_BAD_INPUT')
    await writeFile(edited, text.slice(0, HEADER_BYTES + 100)) // cut short
    expect(await codeOf(() => importFile(hub, edited))).toBe('MARKET_EXPORT_INVALID')
    await expect(stat(hub)).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('refuses a running hub and a non-empty one; a fresh hub (configs only) is replaced', async () => {
    const { w } = await busyMarket()
    const d = await tmp()
    const { file } = await exportFile(w.market.db, join(d, 'a.jsonl'))
    // w's store is open in this process: LevelDB's lock says a hub runs on it.
    expect(await codeOf(() => importFile(w.dir, file))).toBe('MARKET_HUB_RUNNING')
    await w.market.close()
    const before = await exportStopped(w.dir, join(d, 'before.jsonl'))
    expect(await codeOf(() => importFile(w.dir, file))).toBe('MARKET_NOT_EMPTY')
    const after = await exportStopped(w.dir, join(d, 'after.jsonl'))
    expect(after.sha256).toBe(before.sha256)

    const odd = join(d, 'odd', 'hub')
    await mkdir(join(odd, 'images'), { recursive: true }) // not a store: never replaced, never deleted
    expect(await codeOf(() => importFile(odd, file))).toBe('MARKET_NOT_EMPTY')
    expect((await stat(join(odd, 'images'))).isDirectory()).toBe(true)

    const fresh = join(d, 'fresh', 'hub')
    await (await Market.open({ dir: fresh, gateway: new FakeGateway(), scryptN: TEST_SCRYPT_N })).close()
    expect((await importFile(fresh, file)).ledgerSeq).toBe(before.ledgerSeq)
    expect((await exportStopped(fresh, join(d, 'c.jsonl'))).sha256).toBe(before.sha256)
    await expect(stat(`${fresh}.replaced`)).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('verify names each account whose balance differs from its ledger', async () => {
    const { w } = await busyMarket()
    const ok = await verifyStopped(w.dir).catch((e) => e)
    expect(ok.code).toBe('MARKET_HUB_RUNNING') // open in this process
    const buyer = w.market.db.get('users', 'buyer')!
    const prov = w.market.db.get('users', 'prov')!
    await w.market.db.write([
      { type: 'put', table: 'users', key: 'buyer', value: { ...buyer, balance: buyer.balance + 7 } },
      { type: 'put', table: 'users', key: 'prov', value: { ...prov, balance: prov.balance - 2 } },
    ])
    await w.market.close()
    const r = await verifyStopped(w.dir)
    expect(r.problems).toEqual([])
    expect(r.differences).toEqual([
      { username: 'buyer', balance: buyer.balance + 7, ledger: buyer.balance, difference: 7 },
      { username: 'prov', balance: prov.balance - 2, ledger: prov.balance, difference: -2 },
    ])
    expect(await codeOf(() => verifyStopped(join(w.dir, 'nothing')))).toBe('MARKET_BAD_INPUT')
  })

  it('a running hub serves export and verify on its admin socket, and refuses import', async () => {
    const { w } = await busyMarket()
    const d = await tmp()
    const call = (method: string, params: unknown) => snapshotAdminCall(w.market.db, w.dir, method, params)!
    const out: any = await call('export', { file: join(d, 'a.jsonl') })
    expect(out).toMatchObject({ ledgerSeq: w.market.db.seq('ledger') })
    expect(await codeOf(() => call('export', { file: 'relative.jsonl' }))).toBe('MARKET_BAD_INPUT')
    expect(await codeOf(() => call('export', { file: join(d, 'b.jsonl'), extra: 1 }))).toBe('MARKET_BAD_INPUT')
    expect(await codeOf(() => call('import', { file: out.file }))).toBe('MARKET_HUB_RUNNING')
    expect(await call('verify', {})).toMatchObject({ ledgerSeq: out.ledgerSeq, differences: [], problems: [] })
    expect(snapshotAdminCall(w.market.db, w.dir, 'credit', {})).toBeUndefined()
  })

  it('a swap cut between its two renames is undone at the next open', async () => {
    const { w } = await busyMarket()
    await w.market.close()
    const d = await tmp()
    const before = await exportStopped(w.dir, join(d, 'before.jsonl'))
    await rename(w.dir, `${w.dir}.replaced`) // the import died right after its first rename
    const s = await Store.open(w.dir)
    await s.close()
    expect((await exportStopped(w.dir, join(d, 'after.jsonl'))).sha256).toBe(before.sha256)
    await expect(stat(`${w.dir}.replaced`)).rejects.toMatchObject({ code: 'ENOENT' })
  })
})
