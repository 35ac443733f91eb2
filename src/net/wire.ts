// Frame encodings shared by every RPC-style protocol (market@1, control@1, replica@1, console@1):
// a request names a method and carries a session token and a JSON body; a response carries either
// a JSON result or a JSON error {code, message}; an event is pushed without a request.
//
// Sizes are checked BEFORE decoding: each string's length prefix is read first, and a string over
// its limit is skipped, never turned into a JS string. The frame then decodes with `tooLarge` set
// (its size in bytes), so the channel can answer that request with NODE_FRAME_TOO_LARGE instead of
// parsing it (protomux would drop the whole connection if decode threw).
import c from 'compact-encoding'

/** Bodies larger than this are refused: no market message needs more, and one message cannot
 *  make a peer buffer more than this. */
export const MAX_BODY_BYTES = 1 << 20
export const MAX_METHOD_BYTES = 128
export const MAX_TOKEN_BYTES = 256

export interface RequestFrame {
  id: number
  method: string
  token: string
  body: string
  /** Set by decode: a part was over its limit and was skipped; the frame's size in bytes. */
  tooLarge?: number
}
export interface ResponseFrame {
  id: number
  ok: boolean
  body: string
  tooLarge?: number
}
export interface EventFrame {
  name: string
  body: string
  tooLarge?: number
}

type State = { start: number; end: number; buffer: Uint8Array | null }

/** One compact-encoding codec (protomux's Encoding). */
export interface Codec<T> {
  preencode(state: State, v: T): void
  encode(state: State, v: T): void
  decode(state: State): T
}

/** A record encoded field after field, in the order `fields` lists them (hand-written triples drift). */
export function struct<T extends object>(fields: { [K in keyof T]: Codec<T[K]> }): Codec<T> {
  const keys = Object.keys(fields) as Array<keyof T>
  return {
    preencode(state, m) {
      for (const k of keys) fields[k].preencode(state, m[k])
    },
    encode(state, m) {
      for (const k of keys) fields[k].encode(state, m[k])
    },
    decode(state) {
      const out = {} as T
      for (const k of keys) out[k] = fields[k].decode(state)
      return out
    },
  }
}

/** A string of at most `max` bytes, or null when its length prefix says more (then it is skipped). */
function boundedString(state: State, max: number): string | null {
  const at = state.start
  const len = c.uint.decode(state)
  if (len > max) {
    state.start = Math.min(state.end, state.start + len)
    return null
  }
  state.start = at
  return c.string.decode(state)
}

/** What a bounded codec decodes an oversized message to: its size; the bytes were never decoded. */
export class TooLarge {
  constructor(readonly size: number) {}
}

/**
 * A message that is one string (or one buffer) of at most `max` bytes, checked from its length prefix
 * before anything is decoded: console@1's control messages and data, vmmp@1's frames. Over the limit,
 * decode skips it and returns TooLarge, so the receiver refuses it in words instead of protomux
 * dropping the connection. Encoding refuses too: `fits` is what senders check first.
 */
export function bounded<T extends string | Buffer>(max: number, kind: 'string' | 'buffer'): Codec<T | TooLarge> {
  const inner = (kind === 'string' ? c.string : c.buffer) as unknown as Codec<T>
  return {
    preencode: (state, v) => inner.preencode(state, v as T),
    encode: (state, v) => inner.encode(state, v as T),
    decode(state) {
      const at = state.start
      const len = c.uint.decode(state)
      if (len > max) {
        state.start = state.end
        return new TooLarge(len)
      }
      state.start = at
      return inner.decode(state) ?? ((kind === 'string' ? '' : Buffer.alloc(0)) as T)
    },
  }
}

/** Bytes a string or buffer takes on the wire (what `bounded` compares with its limit). */
export const byteSize = (v: string | Buffer) => (typeof v === 'string' ? Buffer.byteLength(v) : v.length)

const requestStruct = struct<RequestFrame>({ id: c.uint, method: c.string, token: c.string, body: c.string })
const responseStruct = struct<ResponseFrame>({ id: c.uint, ok: c.bool, body: c.string })
const eventStruct = struct<EventFrame>({ name: c.string, body: c.string })

export const requestEncoding: Codec<RequestFrame> = {
  preencode: requestStruct.preencode,
  encode: requestStruct.encode,
  decode(state) {
    const size = state.end - state.start
    const id = c.uint.decode(state)
    const method = boundedString(state, MAX_METHOD_BYTES)
    const token = method === null ? null : boundedString(state, MAX_TOKEN_BYTES)
    const body = token === null ? null : boundedString(state, MAX_BODY_BYTES)
    if (method === null || token === null || body === null) {
      state.start = state.end
      return { id, method: method ?? '', token: '', body: '', tooLarge: size }
    }
    return { id, method, token, body }
  },
}

export const responseEncoding: Codec<ResponseFrame> = {
  preencode: responseStruct.preencode,
  encode: responseStruct.encode,
  decode(state) {
    const size = state.end - state.start
    const id = c.uint.decode(state)
    const ok = c.bool.decode(state)
    const body = boundedString(state, MAX_BODY_BYTES)
    if (body === null) return { id, ok: false, body: '', tooLarge: size }
    return { id, ok, body }
  },
}

export const eventEncoding: Codec<EventFrame> = {
  preencode: eventStruct.preencode,
  encode: eventStruct.encode,
  decode(state) {
    const size = state.end - state.start
    const name = boundedString(state, MAX_METHOD_BYTES)
    const body = name === null ? null : boundedString(state, MAX_BODY_BYTES)
    if (name === null || body === null) {
      state.start = state.end
      return { name: name ?? '', body: '', tooLarge: size }
    }
    return { name, body }
  },
}
