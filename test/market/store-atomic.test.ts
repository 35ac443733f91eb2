// store.write refuses a whole batch it cannot apply, before touching memory (issue 11, item 14):
// a patch naming a missing row used to throw halfway, leaving the earlier ops in memory only.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Store } from '../../src/market/store.ts'

let dir: string
let s: Store
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'virtuoso-store-'))
  s = await Store.open(dir)
})
afterEach(async () => {
  await s.close()
  await rm(dir, { recursive: true, force: true })
})

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'NO_ERROR',
    (e) => e.code,
  )

describe('store.write is all or nothing', () => {
  it('a patch of a missing row refuses the batch; memory, seqs and disk stay as they were', async () => {
    await s.write([{ type: 'put', table: 'meta', key: 'keep', value: { n: 1 } }])
    const seq = s.seq('changes')
    const ledger = s.seq('ledger')
    const code = await codeOf(
      s.write([
        { type: 'put', table: 'meta', key: 'a', value: 1 },
        { type: 'append', table: 'ledger', value: { amount: 5 } },
        { type: 'patch', table: 'meta', key: 'keep', fields: { n: 2 } },
        { type: 'patch', table: 'meta', key: 'missing', fields: { x: 1 } },
      ]),
    )
    expect(code).toBe('MARKET_BAD_INPUT')
    expect(s.get('meta', 'a')).toBeUndefined()
    expect(s.get('meta', 'keep')).toEqual({ n: 1 })
    expect(s.seq('changes')).toBe(seq)
    expect(s.seq('ledger')).toBe(ledger)
    // The store is not broken: the next write works, and a reopen agrees with memory.
    await s.write([{ type: 'patch', table: 'meta', key: 'keep', fields: { n: 3 } }])
    await s.close()
    s = await Store.open(dir)
    expect(s.get('meta', 'a')).toBeUndefined()
    expect(s.get('meta', 'keep')).toEqual({ n: 3 })
    expect(s.seq('changes')).toBe(seq + 1)
  })

  it('follows the batch: put then patch is fine, del then patch is refused', async () => {
    await s.write([
      { type: 'put', table: 'meta', key: 'b', value: { n: 1 } },
      { type: 'patch', table: 'meta', key: 'b', fields: { m: 2 } },
    ])
    expect(s.get('meta', 'b')).toEqual({ n: 1, m: 2 })
    const code = await codeOf(
      s.write([
        { type: 'del', table: 'meta', key: 'b' },
        { type: 'patch', table: 'meta', key: 'b', fields: { m: 3 } },
      ]),
    )
    expect(code).toBe('MARKET_BAD_INPUT')
    expect(s.get('meta', 'b')).toEqual({ n: 1, m: 2 })
  })
})
