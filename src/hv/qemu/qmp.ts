// The QMP wire: a unix socket carrying JSON objects one per line. QEMU speaks first (the greeting), we
// answer `qmp_capabilities`, then every command carries an `id` its reply echoes, so replies are matched
// by id, never by order. Anything with an `event` key is an asynchronous event and is emitted.
// Nothing here knows what a command means; that is monitor.ts.
import { LineReader } from '../../lines.ts'
import { EventEmitter } from 'node:events'
import { connect, type Socket } from 'node:net'
import { HvError, HV_QMP, HV_TIMEOUT } from '../errors.ts'

export const DEFAULT_COMMAND_TIMEOUT_MS = 10_000
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000

export interface QmpEvent {
  event: string
  data?: Record<string, unknown>
  timestamp?: { seconds: number; microseconds: number }
}

export interface QmpGreeting {
  QMP: { version: { qemu: { major: number; minor: number; micro: number }; package: string }; capabilities: string[] }
}

export interface QmpOptions {
  /** How long to wait for the socket and the greeting. */
  connectTimeoutMs?: number
  /** Default per-command timeout. */
  timeoutMs?: number
  /** Sees every line sent ('>') and received ('<'): the transcript recorder and debugging use it. */
  trace?: (dir: '>' | '<', line: string) => void
}

interface Pending {
  resolve(v: unknown): void
  reject(e: Error): void
  timer: NodeJS.Timeout
  command: string
}

/** One QMP session. Events: 'event' (QmpEvent), '<EVENT NAME>' (data), 'close'. */
export class QmpClient extends EventEmitter {
  greeting: QmpGreeting | null = null
  readonly path: string
  #sock: Socket
  #lines = new LineReader((l) => {
    const line = l.trim()
    if (line) this.#onLine(line)
  })
  #nextId = 1
  #pending = new Map<string, Pending>()
  #timeoutMs: number
  #trace?: QmpOptions['trace']
  #closed = false
  #greeted: Promise<QmpGreeting>

  private constructor(path: string, sock: Socket, opts: QmpOptions) {
    super()
    this.path = path
    this.#sock = sock
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS
    this.#trace = opts.trace
    let onGreeting!: (g: QmpGreeting) => void
    let onFail!: (e: Error) => void
    this.#greeted = new Promise((res, rej) => {
      onGreeting = res
      onFail = rej
    })
    this.once('greeting', onGreeting)
    this.once('close', () =>
      onFail(
        new HvError(
          HV_QMP,
          `QMP connection to ${path} closed before QEMU greeted; the VM process has probably exited.`,
        ),
      ),
    )
    sock.setEncoding('utf8')
    sock.on('data', (s: string) => this.#onData(s))
    sock.on('error', () => {})
    sock.on('close', () => this.#onClose())
  }

  /** Connect, read the greeting and negotiate capabilities. */
  static async connect(path: string, opts: QmpOptions = {}): Promise<QmpClient> {
    const timeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS
    const sock = await new Promise<Socket>((resolve, reject) => {
      const s = connect(path)
      const timer = setTimeout(() => {
        s.destroy()
        reject(
          new HvError(
            HV_TIMEOUT,
            `Connecting to QMP socket ${path} timed out after ${timeoutMs} ms; QEMU may be hung, stop the machine.`,
          ),
        )
      }, timeoutMs)
      s.once('connect', () => {
        clearTimeout(timer)
        resolve(s)
      })
      s.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer)
        reject(
          new HvError(
            HV_QMP,
            `Cannot connect to QMP socket ${path} (${err.code ?? err.message}); the VM is not running.`,
            { cause: err },
          ),
        )
      })
    })
    const client = new QmpClient(path, sock, opts)
    let timer: NodeJS.Timeout | undefined
    try {
      await Promise.race([
        client.#greeted,
        new Promise((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new HvError(
                  HV_TIMEOUT,
                  `QEMU did not greet on ${path} within ${timeoutMs} ms; another client may hold the monitor, ` +
                    `or QEMU is hung.`,
                ),
              ),
            timeoutMs,
          )
        }),
      ])
      await client.execute('qmp_capabilities')
    } catch (err) {
      client.close()
      throw err
    } finally {
      clearTimeout(timer)
    }
    return client
  }

  get closed(): boolean {
    return this.#closed
  }

  /** Run a command; resolves with its `return`, rejects with HV_QMP (QEMU said error) or HV_TIMEOUT. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, opts: { timeoutMs?: number } = {}): Promise<T> {
    if (this.#closed)
      return Promise.reject(
        new HvError(
          HV_QMP,
          `Cannot run QMP '${command}': the connection to ${this.path} is closed; the VM process has exited.`,
        ),
      )
    const id = `v${this.#nextId++}`
    const msg: Record<string, unknown> = { execute: command }
    if (args) msg.arguments = args
    msg.id = id
    const line = JSON.stringify(msg)
    const timeoutMs = opts.timeoutMs ?? this.#timeoutMs
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id)
        reject(
          new HvError(
            HV_TIMEOUT,
            `QMP '${command}' got no reply within ${timeoutMs} ms; QEMU is busy or hung, try again or stop the ` +
              `machine.`,
          ),
        )
      }, timeoutMs)
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer, command })
      this.#trace?.('>', line)
      this.#sock.write(line + '\n')
    })
  }

  /** Resolve on the next event named `name` (optionally matching `where`), or HV_TIMEOUT. */
  waitEvent(
    name: string,
    timeoutMs: number,
    where: (data: Record<string, unknown>) => boolean = () => true,
  ): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const onEvent = (data: Record<string, unknown> = {}): void => {
        if (!where(data)) return
        cleanup()
        resolve(data)
      }
      const onClose = (): void => {
        cleanup()
        reject(new HvError(HV_QMP, `QMP connection closed while waiting for ${name}; the VM process exited.`))
      }
      const timer = setTimeout(() => {
        cleanup()
        reject(new HvError(HV_TIMEOUT, `QEMU sent no ${name} event within ${timeoutMs} ms.`))
      }, timeoutMs)
      const cleanup = (): void => {
        clearTimeout(timer)
        this.off(name, onEvent)
        this.off('close', onClose)
      }
      this.on(name, onEvent)
      this.once('close', onClose)
    })
  }

  close(): void {
    this.#sock.destroy()
  }

  #onData(s: string): void {
    this.#lines.push(s)
  }

  #onLine(line: string): void {
    this.#trace?.('<', line)
    let msg: Record<string, unknown>
    try {
      msg = JSON.parse(line) as Record<string, unknown>
    } catch {
      return this.#fail(new HvError(HV_QMP, `QEMU sent a line that is not JSON on ${this.path}: ${line.slice(0, 80)}`))
    }
    if ('QMP' in msg) {
      this.greeting = msg as unknown as QmpGreeting
      this.emit('greeting', this.greeting)
      return
    }
    if (typeof msg.event === 'string') {
      const ev = msg as unknown as QmpEvent
      this.emit('event', ev)
      this.emit(ev.event, ev.data ?? {})
      return
    }
    const id = typeof msg.id === 'string' ? msg.id : undefined
    const p = id === undefined ? undefined : this.#pending.get(id)
    if (!p || id === undefined) return // a reply to a command we already gave up on
    this.#pending.delete(id)
    clearTimeout(p.timer)
    if ('error' in msg) {
      const e = msg.error as { class?: string; desc?: string }
      p.reject(
        new HvError(HV_QMP, `QEMU refused '${p.command}': ${e.desc ?? 'unknown error'} (${e.class ?? 'Error'}).`),
      )
    } else {
      p.resolve(msg.return)
    }
  }

  #fail(err: Error): void {
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer)
      p.reject(err)
    }
    this.#pending.clear()
  }

  #onClose(): void {
    if (this.#closed) return
    this.#closed = true
    this.#fail(new HvError(HV_QMP, `QMP connection to ${this.path} closed; the VM process has exited.`))
    this.emit('close')
  }
}
