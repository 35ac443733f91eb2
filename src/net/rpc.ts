// Request/response and pushed events over one protomux channel. Either side may call the other
// (the hub commands a provider over the same control@1 channel the provider opened), so every
// channel is symmetric: it answers requests with `handler` and resolves its own requests by id.
import { EventEmitter } from 'node:events'
import type Protomux from 'protomux'
import type { Channel, Message } from 'protomux'
import { errorInfo, VirtuosoError } from '../errors.ts'
import { nodeError } from './errors.ts'
import {
  eventEncoding,
  MAX_BODY_BYTES,
  requestEncoding,
  responseEncoding,
  type EventFrame,
  type RequestFrame,
  type ResponseFrame,
} from './wire.ts'
import { limitError } from './limits.ts'

export { MAX_BODY_BYTES } from './wire.ts'
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000
/** Requests of the peer this side runs at once; one more is answered NODE_BUSY at once. */
export const DEFAULT_MAX_IN_FLIGHT = 64

export type Handler = (method: string, params: unknown, token: string) => Promise<unknown> | unknown

export interface RpcOptions {
  protocol: string
  handler?: Handler
  onEvent?: (name: string, data: unknown) => void
  onOpen?: () => void
  onClose?: () => void
  /** The connection's send buffer emptied again after a send() found it full. */
  onDrain?: () => void
  timeoutMs?: number
  maxInFlight?: number
}

interface Pending {
  resolve: (v: unknown) => void
  reject: (e: unknown) => void
  timer: NodeJS.Timeout
  method: string
}

export class RpcChannel extends EventEmitter {
  readonly protocol: string
  private channel: Channel
  private reqMsg: Message<RequestFrame>
  private resMsg: Message<ResponseFrame>
  private evtMsg: Message<EventFrame>
  private pending = new Map<number, Pending>()
  private nextId = 1
  private timeoutMs: number
  private handler?: Handler
  private onEvent?: (name: string, data: unknown) => void
  private maxInFlight: number
  private inFlight = 0
  readonly opened: Promise<void>
  closed = false
  /** Frames refused: over a size limit (either way), or over the in-flight cap. */
  readonly refused = { tooLarge: 0, busy: 0 }

  constructor(mux: Protomux, opts: RpcOptions) {
    super()
    this.protocol = opts.protocol
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS
    this.handler = opts.handler
    this.onEvent = opts.onEvent
    this.maxInFlight = opts.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT
    let markOpen!: () => void
    let markFailed!: (e: unknown) => void
    this.opened = new Promise<void>((resolve, reject) => {
      markOpen = resolve
      markFailed = reject
    })
    this.opened.catch(() => {})
    const channel = mux.createChannel({
      protocol: opts.protocol,
      onopen: () => {
        markOpen()
        opts.onOpen?.()
      },
      ondrain: () => opts.onDrain?.(),
      onclose: () => {
        this.closed = true
        markFailed(nodeError.closed(`opening ${opts.protocol}`))
        for (const p of this.pending.values()) {
          clearTimeout(p.timer)
          p.reject(nodeError.closed(p.method))
        }
        this.pending.clear()
        opts.onClose?.()
        this.emit('close')
      },
    })
    if (!channel) throw nodeError.config(`channel ${opts.protocol} is already open on this connection`)
    this.channel = channel
    this.reqMsg = channel.addMessage({ encoding: requestEncoding, onmessage: (m) => void this.onRequest(m) })
    this.resMsg = channel.addMessage({ encoding: responseEncoding, onmessage: (m) => this.onResponse(m) })
    this.evtMsg = channel.addMessage({ encoding: eventEncoding, onmessage: (m) => this.onEventFrame(m) })
    channel.open()
  }

  request<T = any>(
    method: string,
    params: unknown = {},
    opts: { token?: string; timeoutMs?: number } = {},
  ): Promise<T> {
    if (this.closed) return Promise.reject(nodeError.closed(method))
    const body = JSON.stringify(params ?? {})
    if (Buffer.byteLength(body) > MAX_BODY_BYTES)
      return Promise.reject(nodeError.tooLarge(Buffer.byteLength(body), MAX_BODY_BYTES))
    const id = this.nextId++
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id)
        reject(nodeError.timeout(method, timeoutMs))
      }, timeoutMs)
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer, method })
      this.reqMsg.send({ id, method, token: opts.token ?? '', body })
    })
  }

  /** False while the connection's send buffer is full: a producer stops and waits for onDrain. */
  get drained(): boolean {
    return this.channel.drained !== false
  }

  /** Push an event; false when it was not sent (closed, or over the size limit: NODE_FRAME_TOO_LARGE
   *  is the caller's to split). */
  event(name: string, data: unknown): boolean {
    if (this.closed) return false
    const body = JSON.stringify(data ?? null)
    if (Buffer.byteLength(body) > MAX_BODY_BYTES) {
      this.refused.tooLarge++
      return false
    }
    this.evtMsg.send({ name, body })
    return true
  }

  close(): void {
    if (!this.closed) this.channel.close()
  }

  private async onRequest(m: RequestFrame): Promise<void> {
    let ok = true
    let result: unknown
    const counted = !m.tooLarge && this.inFlight < this.maxInFlight
    if (counted) this.inFlight++
    try {
      if (m.tooLarge) {
        this.refused.tooLarge++
        throw nodeError.tooLarge(m.tooLarge, MAX_BODY_BYTES)
      }
      if (!counted) {
        this.refused.busy++
        throw limitError.busy(`${this.maxInFlight} requests from this connection`)
      }
      if (!this.handler) throw nodeError.unknownMethod(m.method)
      let params: unknown
      try {
        params = JSON.parse(m.body)
      } catch {
        throw nodeError.badFrame('the request body is not JSON')
      }
      result = await this.handler(m.method, params, m.token)
    } catch (err) {
      ok = false
      result = errorInfo(err)
      if (!(err instanceof VirtuosoError) && process.env.VIRTUOSO_DEBUG) console.error(err)
    } finally {
      if (counted) this.inFlight--
    }
    if (this.closed) return
    let body = JSON.stringify(result ?? null)
    // An answer the peer would refuse unread is replaced by the reason, so the caller learns it.
    if (Buffer.byteLength(body) > MAX_BODY_BYTES) {
      this.refused.tooLarge++
      ok = false
      body = JSON.stringify(errorInfo(nodeError.tooLarge(Buffer.byteLength(body), MAX_BODY_BYTES)))
    }
    this.resMsg.send({ id: m.id, ok, body })
  }

  private onResponse(m: ResponseFrame): void {
    const p = this.pending.get(m.id)
    if (!p) return // late answer after a timeout: nothing waits for it any more
    this.pending.delete(m.id)
    clearTimeout(p.timer)
    if (m.tooLarge) {
      this.refused.tooLarge++
      return p.reject(nodeError.tooLarge(m.tooLarge, MAX_BODY_BYTES))
    }
    let body: any
    try {
      body = JSON.parse(m.body)
    } catch {
      return p.reject(nodeError.badFrame('the response body is not JSON'))
    }
    if (m.ok) p.resolve(body)
    else
      p.reject(
        new VirtuosoError(
          typeof body?.code === 'string' ? body.code : 'INTERNAL',
          String(body?.message ?? 'unknown error'),
        ),
      )
  }

  private onEventFrame(m: EventFrame): void {
    if (m.tooLarge) {
      this.refused.tooLarge++
      return
    }
    let data: unknown
    try {
      data = JSON.parse(m.body)
    } catch {
      return
    }
    this.onEvent?.(m.name, data)
    this.emit('event', m.name, data)
  }
}
