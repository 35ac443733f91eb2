// Export under load (issue 15): billing every 100 ms while a stream of stores, starts, stops,
// migrations and deposits runs without pause, and ten exports in a row. Each file must balance
// exactly when replayed (importFile replays it and refuses it otherwise), and the market must keep
// committing while an export reads, which proves the export does not stop the hub.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { addPm, HOUR, user, world, type World } from '../market/helpers.ts'
import { exportFile, importFile } from '../../src/hub/export-file.ts'
import type { Identity, PmRow } from '../../src/market/types.ts'

const BUYERS = 4
const ROOMY = { info: { memory: 1 << 20, storage: 1 << 30, bogomips: 1 << 30 } }

let w: World
let d: string
beforeAll(async () => {
  w = await world()
  d = await mkdtemp(join(tmpdir(), 'virtuoso-export-load-'))
})
afterAll(async () => {
  await w.close()
  await rm(d, { recursive: true, force: true })
})

/** One step of the stream on machine `vmId`: store → start → stop → migrate → start …; new machines keep coming. */
async function step(buyer: Identity, pms: PmRow[], vmId: string | null, n: number): Promise<string> {
  const m = w.market
  if (n % 7 === 0) await m.credit(buyer.username, 1_000_000)
  const vm = vmId ? m.db.get('vm', vmId) : undefined
  if (!vm) {
    const made = await m.register(buyer, { config: 'small' })
    await m.store(buyer, made.id, pms[n % pms.length].id)
    return made.id
  }
  if (vm.state === 'stored' || vm.state === 'stopped') {
    if (n % 3 === 0) {
      const to = pms.find((p) => p.id !== vm.pmId)!
      const mig = await m.beginMigration(buyer, { vmId: vm.id, to: to.id, method: 'RSYNC' })
      await m.commitMigration(mig.id, vm.version + 1)
    } else await m.start(buyer, vm.id)
  } else if (vm.state === 'started') await m.stop(buyer, vm.id)
  else if (vm.state === 'suspended') await m.resume(buyer, vm.id)
  return n % 11 === 0 ? '' : vm.id // now and then a new machine is stored
}

describe('export under load', () => {
  it('ten exports in a row while billing runs every 100 ms and machines are stored, started and migrated', async () => {
    const prov = await user(w.market, 'prov', 'provider')
    const pms = [await addPm(w.market, prov, ROOMY), await addPm(w.market, prov, ROOMY)]
    const buyers: Identity[] = []
    for (let i = 0; i < BUYERS; i++) {
      buyers.push(await user(w.market, `b${i}`, 'buyer'))
      await w.market.credit(`b${i}`, 10_000_000)
    }
    // A long event log makes each export read for a while, so writes land in the middle of it.
    for (let k = 0; k < 5; k++) {
      const ops = Array.from({ length: 1000 }, (_, i) => ({
        type: 'append' as const,
        table: 'events' as const,
        value: { time: w.clock.t, origin: 'hub', type: 'test.fill', message: `filler ${k}-${i}`, users: [] },
      }))
      await w.market.db.write(ops)
    }

    let running = true
    let billed = 0
    let steps = 0
    let warm!: () => void
    const warmed = new Promise<void>((r) => (warm = r))
    const progress = () => billed >= 2 && steps >= 20 && warm()
    const billing = setInterval(() => {
      w.clock.t += HOUR // every pass is due: running charges each time, storage every 24th
      void w.market.billingPass().then(() => (billed++, progress()))
    }, 100)
    const codes: Record<string, number> = {}
    const stream = buyers.map(async (b, i) => {
      let vmId: string | null = null
      for (let n = i; running; n += BUYERS) {
        try {
          vmId = await step(b, pms, vmId, n)
        } catch (err: any) {
          if (!String(err?.code).startsWith('MARKET_')) throw err
          codes[err.code] = (codes[err.code] ?? 0) + 1 // e.g. a machine suspended by billing between two steps
          vmId = null
        }
        steps++
        progress()
        await new Promise((r) => setImmediate(r)) // a step that had nothing to do must not starve the timers
      }
    })

    const exports: Array<{ ledgerSeq: number; rows: number; ledgerAfter: number; file: string }> = []
    try {
      // Both kinds of load are under way before the first export.
      await warmed
      for (let k = 0; k < 10; k++) {
        const r = await exportFile(w.market.db, join(d, `export-${k}.jsonl`))
        exports.push({ ledgerSeq: r.ledgerSeq, rows: r.rows, ledgerAfter: w.market.db.seq('ledger'), file: r.file })
      }
    } finally {
      running = false
      clearInterval(billing)
      await Promise.all(stream)
      await w.market.billingPass()
    }

    for (const [k, e] of exports.entries()) {
      const r = await importFile(join(d, `import-${k}`, 'hub'), e.file) // refuses a file that does not balance
      expect(r.ledgerSeq).toBe(e.ledgerSeq)
      expect(r.accounts).toBe(BUYERS + 1)
    }
    const seqs = exports.map((e) => e.ledgerSeq)
    const seen = `${steps} steps (refused: ${JSON.stringify(codes)}), ${billed} billing passes; ledger seq ${seqs.join(', ')}`
    console.log(`export under load: ${seen}`)
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
    expect(seqs[9]).toBeGreaterThan(seqs[0])
    // Money moved while exports were reading: the hub kept committing during them.
    expect(exports.some((e) => e.ledgerAfter > e.ledgerSeq)).toBe(true)
    expect((await w.market.audit()).ok).toBe(true)
  })
})
