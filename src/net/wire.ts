// Frame encodings shared by every RPC-style protocol (market@1, control@1, replica@1, console@1):
// a request names a method and carries a session token and a JSON body; a response carries either
// a JSON result or a JSON error {code, message}; an event is pushed without a request.
import c from 'compact-encoding'

export interface RequestFrame {
  id: number
  method: string
  token: string
  body: string
}
export interface ResponseFrame {
  id: number
  ok: boolean
  body: string
}
export interface EventFrame {
  name: string
  body: string
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

export const requestEncoding = struct<RequestFrame>({ id: c.uint, method: c.string, token: c.string, body: c.string })
export const responseEncoding = struct<ResponseFrame>({ id: c.uint, ok: c.bool, body: c.string })
export const eventEncoding = struct<EventFrame>({ name: c.string, body: c.string })
