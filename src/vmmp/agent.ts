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
import type { MigrateInput, MigrationPhases, MigrationRow } from '../market/migrations.ts'
import type { Identity } from '../market/types.ts'
import { errorInfo } from '../errors.ts'
import type { VmmpChannel } from './channel.ts'
import { vmmpError, VMMP_REMOTE_FAIL } from './errors.ts'
import { originSsh } from './origin-ssh.ts'
import { SCP_TRANSPORT } from './incoming.ts'
import { HubChannels } from './hub-channels.ts'
import { transfer, type TransferOptions } from './transfer.ts'
import { QueryCache, queryDestinations, type Destination } from './destinations.ts'

export { PROGRESS_WRITE_MS } from './transfer.ts'

export const DEFAULT_HEARTBEAT_WINDOW_MS = 5000
const ms = (t: number): number => Math.round(t)
export const DEFAULT_QUERY_TIMEOUT_MS = 10_000
export const DEFAULT_RECOVER_WAIT_MS = 20_000
export const DEFAULT_SETTLE_INTERVAL_MS = 2000

/** How the agent reaches destinations over vmmp@1: QUERY, and REQ until RESP. The hub's default is
 *  its channels (hub-channels.ts); the seeded simulation passes its own, with the decisions above
 *  left as they are. `current` names a node's open channel (QUERY answers are kept per channel). */
export interface VmmpLink {
  query(nodeKey: string, vmId: string, timeoutMs?: number): Promise<string[]>
  transfer(o: Omit<TransferOptions, 'channels'>): Promise<number>
  current(nodeKey: string): unknown
}

export interface AgentOptions {
  /** Instead of the vmmp@1 channels (the simulation). */
  link?: VmmpLink
  /** Told of every migration run it starts (nobody else awaits them; the simulation does). */
  onRun?: (migrationId: string, run: Promise<void>) => void
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

export class MigrationAgent implements Migrator {
  private channels: HubChannels
  private active = new Map<string, () => void>()
  private timer: NodeJS.Timeout | null = null
  private settling = false
  private closing = false

  /** QUERY answers, shared by `destinations` and the migrate that follows it. */
  private queries: QueryCache
  private link: VmmpLink

  constructor(private opts: AgentOptions) {
    this.channels = new HubChannels(opts.log)
    this.link = opts.link ?? {
      query: (key, vmId, timeoutMs) => this.query(key, vmId, timeoutMs),
      transfer: (o) => transfer({ ...o, channels: this.channels }),
      current: (key) => this.channels.current(key),
    }
    this.queries = new QueryCache(
      (key, vmId, timeoutMs) => this.link.query(key, vmId, timeoutMs),
      (key) => this.link.current(key),
    )
  }

  private get market(): Market {
    return this.opts.market
  }

  /** Every connection: vmmp@1 next to control@1; a node's channel is known by its proven Noise key. */
  attach(nodeKey: string, mux: Protomux): VmmpChannel {
    return this.channels.attach(nodeKey, mux)
  }

  /** market.migrate lands here. */
  start(who: Identity | null, input: MigrateInput): Promise<MigrationRow> {
    return this.migrate(who, input)
  }

  /** market.destinations lands here: every candidate with its methods, QUERYed in parallel. */
  destinations(who: Identity | null, vmId: string): Promise<Destination[]> {
    return queryDestinations(this.market, this.queries, who, vmId)
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

  /** QUERY -> RESULTS: the methods the destination supports. */
  async query(nodeKey: string, vmId: string, timeoutMs?: number): Promise<string[]> {
    const ch = this.channels.get(nodeKey)
    const wait = timeoutMs ?? this.opts.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS
    return new Promise<string[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        off()
        reject(vmmpError.stalled(wait))
      }, wait)
      const off = this.channels.listen(nodeKey, {
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
    const t0 = performance.now()
    const offered = await this.queries.methods(to.nodeKey, vm.id)
    const t1 = performance.now()
    const method = input.method ?? offered[0]
    if (!method || !offered.includes(method)) throw vmmpError.unknownMethod(String(method), offered)
    const row = await this.market.beginMigration(who, { ...input, method })
    const phases: MigrationPhases = { query: ms(t1 - t0), prepare: null, copy: null, verify: null, commit: null }
    // Nobody awaits the run: anything it throws is logged here, never an unhandled rejection.
    const run = this.run(row, from.nodeKey, phases, t1).catch((err) =>
      this.opts.log?.(`migration ${row.id}: ${errorInfo(err).message}; it stays open and is resolved by recovery`),
    )
    this.opts.onRun?.(row.id, run)
    return row
  }

  /** Tell the origin to authorize the destination and the destination what is coming; the origin's
   *  answer. SCP's destination needs the origin's SSH address from that answer; RSYNC's dials the
   *  origin by key, so both are told at once (one round trip fewer before the copy starts). */
  private async prepare(row: MigrationRow, originKey: string, secret: string): Promise<any> {
    const origin = this.command(originKey, 'migration.prepare-origin', {
      migrationId: row.id,
      vmId: row.vmId,
      version: row.version,
      destKey: row.to.nodeKey,
      method: row.method,
      secret, // read only by nodes from before SCP moved to OpenSSH
    })
    const vm = this.market.vm(row.vmId)
    const media = vm.media ? { digest: vm.media.digest, size: vm.media.size } : null
    const dest = (o: object) =>
      this.command(row.to.nodeKey, 'migration.prepare-dest', {
        migrationId: row.id,
        vmId: row.vmId,
        version: row.version,
        config: this.market.hvConfig(vm),
        suspended: row.prevState === 'suspended',
        method: row.method,
        origin: {
          key: originKey,
          ...originSsh(this.market.nodeInfo(originKey), this.opts.gateway.observedHost?.(originKey) ?? null, o),
        },
        secret,
        media,
      })
    // A destination node from before media travelled ignores it: the machine would arrive without it.
    const takesMedia = (d: any) => {
      if (media && d?.media !== true)
        throw vmmpError.protocol(
          `the destination's node cannot take install media; \`virtuoso media detach ${row.vmId}\` first`,
        )
    }
    if (row.method === 'SCP') {
      const o = await origin
      const d = await dest(o)
      takesMedia(d)
      if (d?.scp !== SCP_TRANSPORT)
        throw vmmpError.protocol(
          "the destination's node runs an older Virtuoso (SCP over ssh2 SFTP); upgrade it or use RSYNC",
        )
      return o
    }
    // Both settle before a failure is thrown: the abort that follows must reach a destination that
    // already recorded the migration, not overtake its prepare.
    const [o, d] = await Promise.allSettled([origin, dest({})])
    if (o.status === 'rejected') throw o.reason
    if (d.status === 'rejected') throw d.reason
    takesMedia(d.value)
    return o.value
  }

  private command(nodeKey: string, method: string, params: object): Promise<any> {
    return this.opts.gateway.command(nodeKey, method, params)
  }

  private async run(row: MigrationRow, originKey: string, phases: MigrationPhases, t1: number): Promise<void> {
    const secret = randomBytes(24).toString('base64url')
    const to = row.to.nodeKey
    let stop: () => void = () => {}
    const stopped = new Promise<never>((_, reject) => {
      stop = () => reject(vmmpError.aborted('stopped: the hub is shutting down'))
    })
    stopped.catch(() => {})
    this.active.set(row.id, stop)
    try {
      try {
        const o = await Promise.race([stopped, this.prepare(row, originKey, secret)])
        const t2 = performance.now()
        phases.prepare = ms(t2 - t1)
        await this.market.migrationProgress(row.id, { phase: 'copying', lastHeartbeat: Date.now(), phases })
        const t3 = performance.now()
        const version = await Promise.race([
          stopped,
          this.link.transfer({
            row,
            originPort: o.sshPort ?? 0,
            hubKey: this.opts.hubKey,
            windowMs: this.opts.heartbeatWindowMs ?? DEFAULT_HEARTBEAT_WINDOW_MS,
            phases,
            progress: (p) => void this.market.migrationProgress(row.id, p).catch(() => {}),
          }),
        ])
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
        const res = await this.command(to, 'migration.abort', { migrationId: row.id, vmId: row.vmId }).catch(() => null)
        if (res?.error?.code && reason.code === VMMP_REMOTE_FAIL) reason = res.error
        await this.market.revertMigration(row.id, reason)
        if (res) await this.market.migrationSettled(row.id, { destCleaned: true })
        this.opts.log?.(`migration ${row.id}: ${row.vmId} reverted: ${reason.message}`)
      }
    } finally {
      this.active.delete(row.id)
    }
    if (!this.closing) await this.settle()
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
              await this.command(m.to.nodeKey, 'migration.status', {
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
          const res = await this.command(m.to.nodeKey, 'migration.abort', { migrationId: m.id, vmId: m.vmId }).catch(
            () => null,
          )
          await this.market.revertMigration(
            m.id,
            vmmpError.aborted(
              'ended: the hub restarted during the migration and the destination held no complete copy',
            ),
          )
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
            await this.command(m.to.nodeKey, 'migration.abort', { migrationId: m.id, vmId: m.vmId }).then(
              () => true,
              () => false,
            )
          )
            await this.market.migrationSettled(m.id, { destCleaned: true })
        }
        if (!m.originReleased && online(m.from.nodeKey)) {
          const committed = m.phase === 'committed'
          if (
            await this.command(m.from.nodeKey, 'migration.release', {
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
