import { describe, it, expect, afterEach } from 'vitest'
import { world, type World } from './helpers.ts'

describe('catalog', () => {
  let w: World
  afterEach(async () => {
    await w.close()
  })
  it('seeds standard and preconfigured configurations once', async () => {
    w = await world()
    const cs = w.market.configs()
    expect(cs.map((c) => c.name)).toEqual(expect.arrayContaining(['small', 'medium', 'large', 'linux-small']))
    for (const c of cs) {
      expect(c.hd).toBeGreaterThanOrEqual(2048)
      expect(c.memory).toBeLessThanOrEqual(512)
      if (c.preconfigured) expect(c.os).toBe('linux')
    }
    await w.market.db.write([{ type: 'del', table: 'config', key: 'large' }])
    await w.reopen()
    expect(w.market.configs().map((c) => c.name)).not.toContain('large') // not reseeded over the operator's changes
  })
})
