// The hub's migration agent (report §7.2.2, §7.3): the only sender of REQ. For one migration:
//   1. check the market rules, QUERY the destination over vmmp@1, check it offers the method;
//   2. begin (machine 'migrating', room reserved), tell the origin to authorize exactly that
//      destination for exactly this migration ('migration.prepare-origin'), tell the destination
//      what is coming ('migration.prepare-dest'), send REQ;
//   3. wait for HEARTBEAT / PROGRESS frames and the RESP. A silent window (heartbeatWindowMs), RESP
//      FAIL or the destination's disconnect -> abort at the destination (its copy is deleted), revert
//      in the market, release the origin. RESP SUCCESS at VERSION+1 -> commit (one batch), then
//      release the origin, which keeps its files as a cache for a later return trip.
// Who kills or keeps what (libvirt style): before the commit the origin's copy is THE copy and is
// never touched; the destination's copy is deleted on every failure path. After the commit the
// destination's copy is THE copy; the origin unregisters its own (keeping files as an RSYNC base).
// Steps that could not reach a provider are retried by the settle pass until they succeed.
// After a hub restart `recover()` resolves every open migration: the destination holds the
// machine complete at VERSION+1 -> commit; anything else -> abort there and revert.
import { randomBytes } from 'node:crypto'
import type Protomux from 'protomux'
import type { Market, Migrator } from '../market/market.ts'
import type { ProviderGateway } from '../market/gateway.ts'
import type { MigrateInput, MigrationPhases, MigrationRow, ProgressPatch } from '../market/migrations.ts'
import type { Identity } from '../market/types.ts'
import { errorInfo, VirtuosoError } from '../errors.ts'
import { VmmpChannel } from './channel.ts'
import type { VmmpMessage, VmmpProgress, VmmpTiming } from './codec.ts'
import { vmmpError } from './errors.ts'

export const DEFAULT_HEARTBEAT_WINDOW_MS = 5000
const ms = (t: number): number => Math.round(t)
export const DEFAULT_QUERY_TIMEOUT_MS = 10_000
export const DEFAULT_RECOVER_WAIT_MS = 20_000
export const DEFAULT_SETTLE_INTERVAL_MS = 2000
/** Live progress reaches the market (and every replica) at most this often. */
export const PROGRESS_WRITE_MS = 500

export interface AgentOptions {
  market: Market
  gateway: ProviderGateway
  hubKey: string
  heartbeatWindowMs?: number
  queryTimeoutMs?: number
  recoverWaitMs?: number
  settleIntervalMs?: number
  commandTimeoutMs?: number
  log?: (line: string) => void
}

interface Waiter {
  onMessage(m: VmmpMessage): void
  onProgress?(p: VmmpProgress): void
  onTiming?(t: VmmpTiming): void
  onClose(): void
}

export class MigrationAgent implements Migrator {
  private channels = new Map<string, VmmpChannel>()
  private waiters = new Map<string, Set<Waiter>>()
  private active = new Map<string, () => void>()
  private timer: NodeJS.Timeout | null = null
  private settling = false
  private closing = false

  constructor(private opts: AgentOptions) {}

  private get market(): Market {
    return this.opts.market
  }

  /** Every connection: vmmp@1 next to control@1; a node's channel is known by its proven Noise key. */
  attach(nodeKey: string, mux: Protomux): VmmpChannel {
    const ch: VmmpChannel = new VmmpChannel(mux, {
      onOpen: () => {
        this.channels.set(nodeKey, ch)
      },
      onClose: () => {
        if (this.channels.get(nodeKey) !== ch) return
        this.channels.delete(nodeKey)
        for (const w of this.waiters.get(nodeKey) ?? []) w.onClose()
      },
      onMessage: (m) => {
        if (this.channels.get(nodeKey) === ch) for (const w of this.waiters.get(nodeKey) ?? []) w.onMessage(m)
      },
      onProgress: (p) => {
        if (this.channels.get(nodeKey) === ch) for (const w of this.waiters.get(nodeKey) ?? []) w.onProgress?.(p)
      },
      onTiming: (t) => {
        if (this.channels.get(nodeKey) === ch) for (const w of this.waiters.get(nodeKey) ?? []) w.onTiming?.(t)
      },
      onReject: (err) =>
        this.opts.log?.(`vmmp: rejected a frame from ${nodeKey.slice(0, 8)}: ${errorInfo(err).message}`),
    })
    return ch
  }

  /** market.migrate lands here. */
  start(who: Identity | null, input: MigrateInput): Promise<MigrationRow> {
    return this.migrate(who, input)
  }

  /** Recover open migrations, then settle decided ones every few seconds. */
  startDaemon(): void {
    void this.recover().catch((err) => this.opts.log?.(`migration recovery: ${errorInfo(err).message}`))
    this.timer = setInterval(() => void this.settle(), this.opts.settleIntervalMs ?? DEFAULT_SETTLE_INTERVAL_MS)
    this.timer.unref()
  }

  /** Stop without deciding anything: open migrations stay open for the next start to resolve. */
  close(): void {
    this.closing = true
    if (this.timer) clearInterval(this.timer)
    for (const stop of this.active.values()) stop()
  }

  private listen(nodeKey: string, w: Waiter): () => void {
    let set = this.waiters.get(nodeKey)
    if (!set) this.waiters.set(nodeKey, (set = new Set()))
    set.add(w)
    return () => {
      set!.delete(w)
      if (!set!.size && this.waiters.get(nodeKey) === set) this.waiters.delete(nodeKey)
    }
  }

  private channel(nodeKey: string): VmmpChannel {
    const ch = this.channels.get(nodeKey)
    if (!ch || ch.closed)
      throw new VirtuosoError(
        'MARKET_PROVIDER_OFFLINE',
        `provider node ${nodeKey.slice(0, 8)} has no migration channel open; try again when it is connected`,
      )
    return ch
  }

  /** QUERY -> RESULTS: the methods the destination supports. */
  async query(nodeKey: string, vmId: string): Promise<string[]> {
    const ch = this.channel(nodeKey)
    return new Promise<string[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        off()
        reject(vmmpError.stalled(this.opts.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS))
      }, this.opts.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS)
      const off = this.listen(nodeKey, {
        onMessage: (m) => {
          if (m.type === 'RESULTS' && m.id === vmId) {
            clearTimeout(timer)
            off()
            resolve(m.methods)
          }
        },
        onClose: () => {
          clearTimeout(timer)
          off()
          reject(vmmpError.closed('QUERY'))
        },
      })
      ch.send({ type: 'QUERY', id: vmId })
    })
  }

  private async migrate(who: Identity | null, input: MigrateInput): Promise<MigrationRow> {
    const { vm, from, to } = this.market.checkMigration(who, input)
    for (const m of this.market.unsettledMigrations()) {
      if (m.vmId === vm.id)
        throw new VirtuosoError(
          'MARKET_BUSY',
          `the last migration of ${vm.id} is still being cleaned up on its providers; try again in a few seconds`,
        )
    }
    const t0 = performance.now()
    const offered = await this.query(to.nodeKey, vm.id)
    const t1 = performance.now()
    const method = input.method ?? offered[0]
    if (!method || !offered.includes(method)) throw vmmpError.unknownMethod(String(method), offered)
    const row = await this.market.beginMigration(who, { ...input, method })
    const phases: MigrationPhases = { query: ms(t1 - t0), prepare: null, copy: null, verify: null, commit: null }
    // Nobody awaits the run: anything it throws is logged here, never an unhandled rejection.
    this.run(row, from.nodeKey, phases, t1).catch((err) =>
      this.opts.log?.(`migration ${row.id}: ${errorInfo(err).message}; it stays open and is resolved by recovery`),
    )
    return row
  }

  private cmd(nodeKey: string, method: string, params: object): Promise<any> {
    return this.opts.gateway.command(nodeKey, method, params)
  }

  private async run(row: MigrationRow, originKey: string, phases: MigrationPhases, t1: number): Promise<void> {
    const secret = randomBytes(24).toString('base64url')
    const to = row.to.nodeKey
    let stop: () => void = () => {}
    const stopped = new Promise<never>((_, reject) => {
      stop = () => reject(new VirtuosoError('VMMP_ABORTED', 'the hub is shutting down'))
    })
    stopped.catch(() => {})
    this.active.set(row.id, stop)
    try {
      try {
        const o = await Promise.race([
          stopped,
          this.cmd(originKey, 'migration.prepare-origin', {
            migrationId: row.id,
            vmId: row.vmId,
            version: row.version,
            destKey: to,
            secret,
          }),
        ])
        const vm = this.market.vm(row.vmId)
        const config = this.market.hvConfig(vm)
        await Promise.race([
          stopped,
          this.cmd(to, 'migration.prepare-dest', {
            migrationId: row.id,
            vmId: row.vmId,
            version: row.version,
            config,
            suspended: row.prevState === 'suspended',
            method: row.method,
            origin: { key: originKey, sshHost: o.sshHost, sshPort: o.sshPort },
            secret,
          }),
        ])
        const t2 = performance.now()
        phases.prepare = ms(t2 - t1)
        await this.market.migrationProgress(row.id, { phase: 'copying', lastHeartbeat: Date.now(), phases })
        const t3 = performance.now()
        const version = await Promise.race([stopped, this.transfer(row, o.sshPort ?? 0, phases)])
        const t4 = performance.now()
        // Without a TIMING frame (an older destination) the whole REQ -> RESP time counts as copy.
        if (phases.copy === null) phases.copy = ms(t4 - t3)
        await this.market.commitMigration(row.id, version, phases)
        phases.commit = ms(performance.now() - t4)
        await this.market.migrationSettled(row.id, { phases })
        this.opts.log?.(`migration ${row.id}: ${row.vmId} committed on ${row.to.name} at version ${version}`)
      } catch (err) {
        if (this.closing) return
        let reason = errorInfo(err)
        // The destination knows why it failed (RESP carries no reason); its abort answer says.
        const res = await this.cmd(to, 'migration.abort', { migrationId: row.id, vmId: row.vmId }).catch(() => null)
        if (res?.error?.code && reason.code === 'VMMP_REMOTE_FAIL') reason = res.error
        await this.market.revertMigration(row.id, reason)
        if (res) await this.market.migrationSettled(row.id, { destCleaned: true })
        this.opts.log?.(`migration ${row.id}: ${row.vmId} reverted: ${reason.message}`)
      }
    } finally {
      this.active.delete(row.id)
    }
    if (!this.closing) await this.settle()
  }

  /** REQ, then HEARTBEATs until RESP; resolves with VERSION' on SUCCESS. */
  private transfer(row: MigrationRow, originPort: number, phases: MigrationPhases): Promise<number> {
    const to = row.to.nodeKey
    const ch = this.channel(to)
    const window = this.opts.heartbeatWindowMs ?? DEFAULT_HEARTBEAT_WINDOW_MS
    return new Promise<number>((resolve, reject) => {
      let last = Date.now()
      let pending: ProgressPatch = {}
      let lastWrite = 0
      let writeTimer: NodeJS.Timeout | null = null
      let sample = { t: Date.now(), done: 0 }
      let rate = 0
      const flush = () => {
        writeTimer = null
        lastWrite = Date.now()
        const p = pending
        pending = {}
        void this.market.migrationProgress(row.id, p).catch(() => {})
      }
      const write = (p: ProgressPatch) => {
        Object.assign(pending, p)
        if (writeTimer) return
        writeTimer = setTimeout(flush, Math.max(0, lastWrite + PROGRESS_WRITE_MS - Date.now()))
      }
      const finish = (err: unknown, version?: number) => {
        clearInterval(watch)
        if (writeTimer) {
          clearTimeout(writeTimer)
          flush()
        }
        off()
        if (err) reject(err)
        else resolve(version!)
      }
      const watch = setInterval(
        () => {
          if (Date.now() - last > window)
            finish(
              new VirtuosoError(
                'VMMP_STALLED',
                `no HEARTBEAT from the destination for ${window} ms; the migration was reverted, try again`,
              ),
            )
        },
        Math.min(250, window / 4),
      )
      const off = this.listen(to, {
        onMessage: (m) => {
          if (m.id !== row.vmId) return
          if (m.type === 'HEARTBEAT') {
            last = Date.now()
            write({ lastHeartbeat: last })
          }
          if (m.type === 'RESP') {
            if (!m.ok)
              return finish(
                new VirtuosoError('VMMP_REMOTE_FAIL', 'the destination answered RESP FAIL; the migration was reverted'),
              )
            if (m.version !== row.version + 1)
              return finish(
                new VirtuosoError(
                  'MARKET_VERSION_MISMATCH',
                  `the destination answered version ${m.version}, the hub expects ${row.version + 1}`,
                ),
              )
            finish(null, m.version)
          }
        },
        onProgress: (p) => {
          if (p.id !== row.vmId) return
          const now = Date.now()
          last = now
          const dt = (now - sample.t) / 1000
          if (dt >= 0.2) {
            const inst = Math.max(0, p.done - sample.done) / dt
            rate = rate === 0 ? inst : rate * 0.6 + inst * 0.4
            sample = { t: now, done: p.done }
          }
          const eta = rate > 0 ? Math.max(0, Math.round((p.total - p.done) / rate)) : null
          write({ bytesDone: p.done, bytesTotal: p.total, rate: Math.round(rate), eta, lastHeartbeat: now })
        },
        onTiming: (t) => {
          if (t.id !== row.vmId) return
          phases.copy = t.copyMs
          phases.verify = t.verifyMs
        },
        onClose: () => finish(vmmpError.closed('the migration (the destination disconnected)')),
      })
      ch.send({
        type: 'REQ',
        id: row.vmId,
        version: row.version,
        origin: { key: row.from.nodeKey, port: row.method === 'SCP' ? originPort : 0 },
        central: { key: this.opts.hubKey, port: 0 },
        method: row.method,
      })
    })
  }

  /** After a restart: decide every migration the last run left open. */
  async recover(): Promise<void> {
    const open = this.market.openMigrations().filter((m) => !this.active.has(m.id))
    await Promise.all(
      open.map(async (m) => {
        const deadline = Date.now() + (this.opts.recoverWaitMs ?? DEFAULT_RECOVER_WAIT_MS)
        while (!this.opts.gateway.online(m.to.nodeKey) && Date.now() < deadline && !this.closing)
          await new Promise((r) => setTimeout(r, 200))
        if (this.closing) return
        let complete: boolean
        try {
          complete =
            (
              await this.cmd(m.to.nodeKey, 'migration.status', {
                migrationId: m.id,
                vmId: m.vmId,
                version: m.version + 1,
              })
            )?.complete === true
        } catch {
          complete = false
        }
        if (complete) {
          await this.market.commitMigration(m.id, m.version + 1)
          this.opts.log?.(`migration ${m.id}: resolved after a hub restart: ${m.vmId} arrived, committed`)
        } else {
          const res = await this.cmd(m.to.nodeKey, 'migration.abort', { migrationId: m.id, vmId: m.vmId }).catch(
            () => null,
          )
          await this.market.revertMigration(m.id, {
            code: 'VMMP_ABORTED',
            message: 'the hub restarted during the migration and the destination did not hold a complete copy',
          })
          if (res) await this.market.migrationSettled(m.id, { destCleaned: true })
          this.opts.log?.(`migration ${m.id}: resolved after a hub restart: reverted`)
        }
      }),
    )
    await this.settle()
  }

  /** Carry out what decided migrations still owe the providers, for those online now. */
  async settle(): Promise<void> {
    if (this.settling || this.closing) return
    this.settling = true
    try {
      for (const m of this.market.unsettledMigrations()) {
        if (this.active.has(m.id)) continue
        const online = (k: string) => this.opts.gateway.online(k)
        if (m.phase === 'failed' && !m.destCleaned && online(m.to.nodeKey)) {
          if (
            await this.cmd(m.to.nodeKey, 'migration.abort', { migrationId: m.id, vmId: m.vmId }).then(
              () => true,
              () => false,
            )
          )
            await this.market.migrationSettled(m.id, { destCleaned: true })
        }
        if (!m.originReleased && online(m.from.nodeKey)) {
          const committed = m.phase === 'committed'
          if (
            await this.cmd(m.from.nodeKey, 'migration.release', {
              migrationId: m.id,
              vmId: m.vmId,
              version: m.version,
              committed,
            }).then(
              () => true,
              () => false,
            )
          )
            await this.market.migrationSettled(m.id, { originReleased: true })
        }
      }
    } catch (err) {
      this.opts.log?.(`migration settle: ${errorInfo(err).message}`)
    } finally {
      this.settling = false
    }
  }
}
