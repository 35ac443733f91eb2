// The provider's side of the event log (report §6.1.10: "all important events in the system
// (including provider system events) are logged … and come in order of their occurrence"). What the
// provider sees (a guest exiting, an image delivered or failed, a speed limit not applied) is first
// appended here, to a local file, and then sent to the hub in order. While the hub is unreachable
// the events wait in the file (a provider restart keeps them) and are replayed in order once it
// answers. Each carries this log's epoch and a sequence number, so the hub takes each one once even
// when an answer was lost and the event is sent again.
import { EventEmitter } from 'node:events'
import { appendFile, readFile, rename, writeFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { privateDir } from '../secret-file.ts'

export interface ProviderEvent {
  type: string
  message: string
  vmId?: string
}
export interface LoggedEvent extends ProviderEvent {
  seq: number
  /** When the provider saw it (ms since the epoch). */
  at: number
}

/** The file is rewritten without its acknowledged events once it is this large. */
export const COMPACT_BYTES = 64 * 1024
/** At most this many events wait for the hub; beyond it the oldest are dropped (and that is logged). */
export const MAX_PENDING = 10_000

interface State {
  epoch: string
  acked: number
}

/** Emits 'ack' (seq) once the hub has taken every event up to seq. */
export class EventLog extends EventEmitter {
  private queue: LoggedEvent[] = []
  private next: number
  private size = 0
  private chain: Promise<unknown> = Promise.resolve()
  /** Events dropped because too many waited (counted, and said in the next event sent). */
  dropped = 0

  private constructor(
    private dir: string | null,
    private state: State,
    pending: LoggedEvent[],
  ) {
    super()
    this.queue = pending
    this.next = Math.max(state.acked, ...pending.map((e) => e.seq)) + 1
  }

  /** A log that does not survive the process (agents started without a data directory). */
  static inMemory(): EventLog {
    return new EventLog(null, { epoch: randomBytes(8).toString('hex'), acked: 0 }, [])
  }

  /** The log kept under `dir` (made 0700). */
  static async open(dir: string): Promise<EventLog> {
    await privateDir(dir)
    let state: State
    try {
      state = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8'))
    } catch {
      state = { epoch: randomBytes(8).toString('hex'), acked: 0 }
      await writeState(dir, state)
    }
    const text = await readFile(join(dir, 'events.jsonl'), 'utf8').catch(() => '')
    const pending: LoggedEvent[] = []
    for (const line of text.split('\n')) {
      if (!line) continue
      try {
        const e = JSON.parse(line) as LoggedEvent
        if (e.seq > state.acked) pending.push(e)
      } catch {
        // A line cut short by a crash mid-append: the events before it are whole.
      }
    }
    const log = new EventLog(dir, state, pending)
    log.size = Buffer.byteLength(text)
    return log
  }

  get epoch(): string {
    return this.state.epoch
  }

  /** Events not yet acknowledged by the hub, oldest first. */
  pending(): readonly LoggedEvent[] {
    return this.queue
  }

  /** Appends an event (written to the file before this resolves). */
  append(e: ProviderEvent, at = Date.now()): Promise<LoggedEvent> {
    return this.serial(async () => {
      const ev: LoggedEvent = { seq: this.next++, at, type: e.type, message: e.message.slice(0, 1000) }
      if (e.vmId) ev.vmId = e.vmId
      if (this.dir) {
        const line = JSON.stringify(ev) + '\n'
        await appendFile(join(this.dir, 'events.jsonl'), line, { mode: 0o600 })
        this.size += Buffer.byteLength(line)
      }
      this.queue.push(ev)
      while (this.queue.length > MAX_PENDING) {
        this.queue.shift()
        this.dropped++
      }
      return ev
    })
  }

  /** The hub has taken every event up to `seq`. */
  ack(seq: number): Promise<void> {
    return this.serial(async () => {
      if (seq <= this.state.acked) return
      this.queue = this.queue.filter((e) => e.seq > seq)
      this.state = { ...this.state, acked: seq }
      if (this.dir) await this.persist()
      this.emit('ack', seq)
    })
  }

  /** Writes the acknowledged mark; rewrites the file without acknowledged events once it is large. */
  private async persist(): Promise<void> {
    const dir = this.dir!
    await writeState(dir, this.state)
    if (this.size < COMPACT_BYTES) return
    const text = this.queue.map((e) => JSON.stringify(e) + '\n').join('')
    const tmp = join(dir, 'events.jsonl.tmp')
    await writeFile(tmp, text, { mode: 0o600 })
    await rename(tmp, join(dir, 'events.jsonl'))
    this.size = Buffer.byteLength(text)
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn)
    this.chain = run.catch(() => {})
    return run
  }
}

async function writeState(dir: string, state: State): Promise<void> {
  const tmp = join(dir, 'state.json.tmp')
  await writeFile(tmp, JSON.stringify(state), { mode: 0o600 })
  await rename(tmp, join(dir, 'state.json'))
}
