import { describe, it, expect } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Store } from '../../src/market/store.ts'

describe('store', () => {
  it('writes atomically, appends one change per put/del, persists seqs, emits after commit', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'virtuoso-store-'))
    try {
      let s = await Store.open(dir)
      const events: any[] = []
      s.on('change', (c) => events.push(c))
      const p = s.write([
        { type: 'put', table: 'meta', key: 'a', value: 1 },
        { type: 'put', table: 'meta', key: 'b', value: { x: 2 } },
        { type: 'append', table: 'ledger', value: { kind: 'deposit', amount: 5 } },
      ])
      expect(s.get('meta', 'a')).toBe(1) // memory first
      expect(events).toEqual([])
      const changes = await p
      expect(changes.map((c) => c.seq)).toEqual([1, 2, 3])
      expect(events).toEqual(changes)
      await s.write([{ type: 'del', table: 'meta', key: 'a' }])
      await s.close()
      s = await Store.open(dir)
      expect(s.get('meta', 'a')).toBeUndefined()
      expect(s.get('meta', 'b')).toEqual({ x: 2 })
      expect(s.seq('changes')).toBe(4)
      expect(s.seq('ledger')).toBe(1)
      const c = await s.write([{ type: 'append', table: 'events', value: { m: 1 } }])
      expect(c[0].seq).toBe(5)
      expect((await s.changesAfter(3)).map((x) => [x.seq, x.table, x.key, x.value])).toEqual([
        [4, 'meta', 'a', null],
        [5, 'events', '0000000000000001', { m: 1, seq: 1 }],
      ])
      expect((await s.range('ledger'))[0]).toMatchObject({ seq: 1, amount: 5 })
      await s.close()
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
