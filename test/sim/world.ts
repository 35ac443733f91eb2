// One seeded run of the market (issue 11, "Proof"): the real Market over a real LevelDB, driven by a
// seeded scheduler that starts conflicting requests from several buyers and providers, decides the
// fate of every hub -> node message (src: net.ts), jumps the clock, restarts the hub, crashes
// providers, fills disks, fails migrations at every step and makes guests power off by themselves.
// After every step it checks the invariants and returns the first violation (with its step).
import { mkdtemp, rm } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { Market } from '../../src/market/market.ts'
import { hashPairingCode } from '../../src/market/pairing.ts'
import { expectedRoom } from '../../src/market/room.ts'
import { VirtuosoError } from '../../src/errors.ts'
import type { Identity, PmRow } from '../../src/market/types.ts'
import { opContext, SimNet, type SimNode } from './net.ts'
import { checkInvariants, newSeen, type Seen } from './invariants.ts'
import { TEST_SCRYPT_N } from '../scrypt-cost.ts'
import { SHEET } from '../market/helpers.ts'
import { prng } from '../prng.ts'

export interface RunResult {
  seed: number
  steps: number
  violation: string | null
  stats: Record<string, number>
}

const FATES = [
  'deliver',
  'deliver',
  'deliver',
  'deliver',
  'deliver',
  'deliver',
  'lose-request',
  'lose-reply',
  'duplicate',
] as const
const INFO = { processor: 'x86_64', cpus: 2, bogomips: 4000, memory: 512, storage: 9000, hv: 'test' }

export async function runSeed(seed: number, steps = 120): Promise<RunResult> {
  const r = prng(seed)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]
  // Memory-backed when the host has it: the ledger's synced writes would otherwise wait for the disk.
  const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir()
  const dir = await mkdtemp(join(base, `virtuoso-sim-${seed}-`))
  const clock = { t: Date.UTC(2025, 0, 1) }
  const net = new SimNet()
  const stats: Record<string, number> = {}
  const count = (k: string) => (stats[k] = (stats[k] ?? 0) + 1)
  const open = () => Market.open({ dir: join(dir, 'hub'), gateway: net, clock: () => clock.t, scryptN: TEST_SCRYPT_N })
  let market = await open()
  const runs = new Map<string, Promise<void>>()
  let agent = simAgent(market, net, runs)
  const inflight = new Set<Promise<unknown>>()
  const running = new Set<number>()
  let opSeq = 0
  let violation: string | null = null
  const seen: Seen = newSeen()
  const retries = new Map<string, () => Promise<unknown>>()
  // Anything but a coded refusal (a TypeError, a plain Error) from a market rule is a violation.
  // A buyer whose action got no answer (the provider acted or not) retries it later, as a person would.
  const launch = (name: string, fn: () => Promise<unknown>, vmId?: string) => {
    count(name)
    const op = ++opSeq
    running.add(op)
    const p = opContext.run(op, fn).then(
      () => {
        count(`${name}.ok`)
        if (vmId) seen.retry.delete(vmId)
        if (vmId) retries.delete(vmId)
      },
      (err) => {
        if (!(err instanceof VirtuosoError)) violation ??= `${name} threw a non-coded error: ${String(err)}`
        const c = (err as VirtuosoError).code
        if (
          vmId &&
          (c === 'MARKET_PROVIDER_FAILED' || c === 'MARKET_PROVIDER_OFFLINE' || c === 'MARKET_STORAGE_FAILED')
        ) {
          seen.retry.add(vmId)
          retries.set(vmId, fn)
        }
      },
    )
    inflight.add(p)
    void p.finally(() => {
      inflight.delete(p)
      running.delete(op)
    })
  }
  // Decide again only once every operation has finished or waits for a message: runs replay exactly.
  const settle = async () => {
    for (let round = 0; ; round++) {
      await new Promise((res) => setImmediate(res))
      await market.db.flushed().catch(() => {})
      const waiting = new Set(net.queue.map((m) => m.op))
      if ([...running].every((op) => waiting.has(op))) return
      // An operation may wait for another (a billing pass queued behind one that waits for a node).
      if (round > 200) return
    }
  }
  try {
    const buyers: Identity[] = []
    const provs: Identity[] = []
    for (const [name, type] of [
      ['b1', 'buyer'],
      ['b2', 'buyer'],
      ['p1', 'provider'],
      ['p2', 'provider'],
    ] as const) {
      await market.signup({ username: name, type, email: `${name}@example.org`, password: 'correct horse' })
      ;(type === 'buyer' ? buyers : provs).push({ username: name, type })
    }
    const pms: PmRow[] = []
    for (let i = 0; i < 3; i++) {
      const key = createHash('sha256').update(`sim-${seed}-${i}`).digest('hex')
      const node = await SimNet.node(dir, key)
      net.nodes.set(key, node)
      await market.nodeHello(key, { info: INFO, pairingCodeHash: hashPairingCode(`CODE${i}-SIM`) })
      pms.push(await market.pmAdd(provs[i % 2], { pairing: `CODE${i}-SIM`, name: `pm${i}`, ...SHEET }))
    }
    for (const b of buyers) await market.credit(b.username, Math.floor(r() * 400_000))
    // Machines in the order they were registered (their ids are random UUIDs: sorting those would
    // make a replay pick other machines).
    const made: string[] = []
    const vmIds = () => made.filter((id) => market.db.get('vm', id))
    /** The end of a run: every node back, every message delivered, and the hub's own mechanisms
     *  (exit reports, migration settling, reconciliation) run; buyers retry nothing. Then the market
     *  and the nodes must agree exactly: no drift left for a buyer to find. */
    const quiesce = async (): Promise<string | null> => {
      const drain = async () => {
        for (let i = 0; i < 10_000 && (net.queue.length || running.size); i++) {
          if (net.queue.length) await net.settle(0, 'deliver')
          await settle()
        }
      }
      for (const n of net.nodes.values()) {
        n.diskFull = false
        n.staleRelease = false
        if (n.online) continue
        n.online = true
        await market.nodeHello(n.key, { info: INFO, pairingCodeHash: null })
      }
      await drain()
      for (let round = 0; round < 2; round++) {
        for (const n of net.nodes.values()) await reportExits(market, n)
        const a = agent
        const m = market
        launch('settle', () => a.settle())
        await drain()
        launch('reconcile', () => m.reconcilePass().then((f) => f.forEach(() => count('reconciled'))))
        await drain()
      }
      const v = await checkInvariants(market, net, seen, expectedRoom, true)
      return v && `after quiescing: ${v}`
    }
    const owner = (vmId: string) => buyers.find((b) => b.username === market.db.get('vm', vmId)?.owner)!

    let step = 0
    for (; step < steps && !violation; step++) {
      // A machine a stale release left a second copy of: sometimes its live copy's disk is lost next.
      if (net.staleCopies.size && r() < 0.8) await loseDisk(market, net, seen, r, count, net.staleCopies)
      const x = r()
      const ids = vmIds()
      if (process.env.SIM_DEBUG)
        console.error(`step ${step} x=${x.toFixed(3)} queue=${net.queue.length} ops=${running.size}`)
      if (x < 0.12) {
        const b = pick(buyers)
        const pm = pick(pms).id
        launch('register', async () => {
          const vm = await market.register(b, { config: 'small' })
          made.push(vm.id)
          launch('store', () => market.store(b, vm.id, pm), vm.id)
        })
      } else if (x < 0.3 && ids.length) {
        const id = pick(ids)
        const action = pick(['start', 'stop', 'suspend', 'resume', 'delete'] as const)
        const who = owner(id)
        launch(action, () => (market[action] as (w: Identity, id: string) => Promise<unknown>)(who, id), id)
      } else if (x < 0.36 && ids.length) {
        const id = pick(ids)
        const m = market
        launch('migrate', () => migrate(m, runs, owner(id), id, pick(pms).id))
      } else if (x < 0.62 && net.queue.length) {
        // A few messages each step, in a random order; most arrive.
        for (let n = 1 + Math.floor(r() * 4); n > 0 && net.queue.length; n--) {
          const fate = pick(FATES)
          count(`net.${fate}`)
          await net.settle(Math.floor(r() * net.queue.length), fate)
          await settle()
        }
      } else if (x < 0.72) {
        clock.t += pick([1000, 60_000, 3_600_000, 86_400_000, 3 * 86_400_000])
        if (r() < 0.1) clock.t -= 30_000 // a small jump back (NTP)
        const m = market
        launch('billing', () => m.billingPass())
        launch('drain', () => m.drainPass())
      } else if (x < 0.745) {
        count('hub.restart')
        net.dropAll()
        net.gen++
        agent.close()
        // The old hub dies: everything it still sends is lost until its close completes.
        let closed = false
        const closing = market.close().finally(() => (closed = true))
        while (!closed) {
          net.dropAll()
          await new Promise((res) => setImmediate(res))
        }
        await closing
        market = await open()
        agent = simAgent(market, net, runs)
        const a = agent
        launch('recover', () => a.recover())
      } else if (x < 0.8) {
        const node = pick([...net.nodes.values()])
        node.online = !node.online
        count(node.online ? 'node.back' : 'node.crash')
        if (!node.online) await market.nodeOffline(node.key).catch(() => {})
        else {
          await market.nodeHello(node.key, { info: INFO, pairingCodeHash: null }).catch(() => {})
          // The hub reconciles a node at its hello (src/hub/hub.ts).
          const m = market
          launch('reconcile', () => m.reconcileNode(node.key).then((f) => f.forEach(() => count('reconciled'))))
        }
      } else if (x < 0.85) {
        const node = pick([...net.nodes.values()])
        const y = r()
        if (y < 0.3) await loseDisk(market, net, seen, r, count)
        else if (y < 0.65) {
          node.diskFull = !node.diskFull
          count('disk.toggle')
        } else {
          node.staleRelease = !node.staleRelease
          count('stale-release.toggle')
        }
      } else if (x < 0.9) {
        await guestExit(pick([...net.nodes.values()]), r, count)
      } else if (x < 0.93 && ids.length) {
        const b = pick(buyers)
        launch('credit', () => market.credit(b.username, Math.floor(r() * 50_000)))
      } else if (x < 0.96 && ids.length) {
        // A provider tries to evict a machine it hosts (allowed only after both unpaid warnings).
        const id = pick(ids)
        const pm = market.db.get('pm', market.db.get('vm', id)?.pmId ?? '')
        const who = provs.find((p) => p.username === pm?.owner)
        if (who) launch('evict', () => market.evictUnpaid(who, id), id)
      } else {
        for (const node of net.nodes.values()) await reportExits(market, node)
        const a = agent
        const m = market
        launch('settle', () => a.settle())
        launch('reconcile', () => m.reconcilePass().then((f) => f.forEach(() => count('reconciled'))))
        for (const [vmId, fn] of [...retries]) {
          retries.delete(vmId)
          if (market.db.get('vm', vmId)) launch('retry', fn, vmId)
          else seen.retry.delete(vmId)
        }
      }
      await settle()
      violation ??= await checkInvariants(market, net, seen, expectedRoom)
      if (violation) violation = `step ${step}: ${violation}`
    }
    if (!violation) violation = await quiesce()
    if (violation && process.env.SIM_DEBUG) {
      const id = /machine ([0-9a-f]{8})/.exec(violation)?.[1]
      for (const e of await market.db.range('events'))
        if (!id || e.vmId?.startsWith(id)) console.error(`  ${e.seq} ${e.origin} ${e.type}: ${e.message}`)
    }
    stats['drift.seen'] = seen.drift.size
    stats['strays.seen'] = seen.strays.size
    return { seed, steps: step, violation, stats }
  } finally {
    // Operations still running may send more (a refused store removes its copy): drop until done.
    while (inflight.size) {
      net.dropAll()
      await new Promise((res) => setImmediate(res))
    }
    await market.close().catch(() => {})
    for (const n of net.nodes.values()) await n.hv.close().catch(() => {})
    await rm(dir, { recursive: true, force: true })
  }
}

/** A guest on `node` powers off by itself: the hypervisor bumps its version and the agent reports. */
async function guestExit(node: SimNode, r: () => number, count: (k: string) => void): Promise<void> {
  const up = (await node.hv.list()).filter((v) => v.state === 'running')
  if (!up.length) return
  const vm = up[Math.floor(r() * up.length)]
  const term = await node.hv.console(vm.id).catch(() => null)
  if (!term) return
  term.resume()
  term.write('poweroff\n')
  await new Promise((res) => setImmediate(res))
  const after = await node.hv.refresh(vm.id)
  if (after.state !== 'stopped') return
  node.exits.set(vm.id, after.version)
  count('guest.exit')
}

/** The agent's resend of unacknowledged exits (src/provider/agent.ts flushExits). */
async function reportExits(market: Market, node: SimNode): Promise<void> {
  if (!node.online) return
  for (const [vmId, version] of [...node.exits]) {
    const res = await market.guestExited(node.key, { vmId, version }).catch(() => ({ retry: true }))
    if (!res.retry) node.exits.delete(vmId)
  }
}

import { migrate, simAgent } from './migrate.ts'
import { loseDisk } from './lose-disk.ts'
