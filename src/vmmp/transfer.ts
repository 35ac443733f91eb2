// The hub's side of one transfer (report §7.2.2): send REQ to the destination, then watch its
// HEARTBEAT / PROGRESS / TIMING frames until RESP. A silent window, RESP FAIL or the destination's
// disconnect ends it with an error; RESP SUCCESS ends it with VERSION' (the commit checks it). Live progress
// (bytes, rate, ETA) reaches the market at most every PROGRESS_WRITE_MS.
import type { MigrationPhases, MigrationRow, ProgressPatch } from '../market/migrations.ts'
import type { HubChannels } from './hub-channels.ts'
import { vmmpError } from './errors.ts'

/** Live progress reaches the market (and every replica) at most this often. */
export const PROGRESS_WRITE_MS = 500

export interface TransferOptions {
  channels: HubChannels
  row: MigrationRow
  /** The origin's SSH port (SCP only). */
  originPort: number
  hubKey: string
  /** Longest silence from the destination. */
  windowMs: number
  /** The destination's TIMING frame fills copy and verify. */
  phases: MigrationPhases
  /** Writes a progress patch to the market. */
  progress: (p: ProgressPatch) => void
}

/** REQ, then HEARTBEATs until RESP; resolves with VERSION' on SUCCESS. */
export function transfer(o: TransferOptions): Promise<number> {
  const { row, phases, windowMs: window } = o
  const to = row.to.nodeKey
  const ch = o.channels.get(to)
  return new Promise<number>((resolve, reject) => {
    let last = Date.now()
    const writer = new ProgressWriter(o.progress)
    const rate = new RateMeter()
    const finish = (err: unknown, version?: number) => {
      clearInterval(watch)
      writer.flush()
      off()
      if (err) reject(err)
      else resolve(version!)
    }
    const watch = setInterval(
      () => {
        if (Date.now() - last > window) finish(vmmpError.silent(window))
      },
      Math.min(250, window / 4),
    )
    const off = o.channels.listen(to, {
      onMessage: (m) => {
        if (m.id !== row.vmId) return
        if (m.type === 'HEARTBEAT') {
          last = Date.now()
          writer.write({ lastHeartbeat: last })
        }
        // The market checks VERSION' when it commits (MARKET_VERSION_MISMATCH unless VERSION + 1).
        if (m.type === 'RESP') finish(m.ok ? null : vmmpError.remoteFail(), m.version)
      },
      onProgress: (p) => {
        if (p.id !== row.vmId) return
        const now = Date.now()
        last = now
        const bytesPerSec = rate.sample(now, p.done)
        const eta = bytesPerSec > 0 ? Math.max(0, Math.round((p.total - p.done) / bytesPerSec)) : null
        writer.write({ bytesDone: p.done, bytesTotal: p.total, rate: Math.round(bytesPerSec), eta, lastHeartbeat: now })
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
      origin: { key: row.from.nodeKey, port: row.method === 'SCP' ? o.originPort : 0 },
      central: { key: o.hubKey, port: 0 },
      method: row.method,
    })
  })
}

/** Bytes per second, smoothed: samples closer than 0.2 s apart are too noisy to count. */
class RateMeter {
  #last = { t: Date.now(), done: 0 }
  #rate = 0

  sample(now: number, done: number): number {
    const dt = (now - this.#last.t) / 1000
    if (dt >= 0.2) {
      const inst = Math.max(0, done - this.#last.done) / dt
      this.#rate = this.#rate === 0 ? inst : this.#rate * 0.6 + inst * 0.4
      this.#last = { t: now, done }
    }
    return this.#rate
  }
}

/** Merges patches and writes them at most every PROGRESS_WRITE_MS; flush writes what is pending now. */
class ProgressWriter {
  #pending: ProgressPatch = {}
  #lastWrite = 0
  #timer: NodeJS.Timeout | null = null

  constructor(private out: (p: ProgressPatch) => void) {}

  write(p: ProgressPatch): void {
    Object.assign(this.#pending, p)
    if (this.#timer) return
    this.#timer = setTimeout(() => this.#send(), Math.max(0, this.#lastWrite + PROGRESS_WRITE_MS - Date.now()))
  }

  flush(): void {
    if (!this.#timer) return
    clearTimeout(this.#timer)
    this.#send()
  }

  #send(): void {
    this.#timer = null
    this.#lastWrite = Date.now()
    const p = this.#pending
    this.#pending = {}
    this.out(p)
  }
}
