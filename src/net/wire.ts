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

export const requestEncoding = {
  preencode(state: State, m: RequestFrame) {
    c.uint.preencode(state, m.id)
    c.string.preencode(state, m.method)
    c.string.preencode(state, m.token)
    c.string.preencode(state, m.body)
  },
  encode(state: State, m: RequestFrame) {
    c.uint.encode(state, m.id)
    c.string.encode(state, m.method)
    c.string.encode(state, m.token)
    c.string.encode(state, m.body)
  },
  decode(state: State): RequestFrame {
    return {
      id: c.uint.decode(state),
      method: c.string.decode(state),
      token: c.string.decode(state),
      body: c.string.decode(state),
    }
  },
}

export const responseEncoding = {
  preencode(state: State, m: ResponseFrame) {
    c.uint.preencode(state, m.id)
    c.bool.preencode(state, m.ok)
    c.string.preencode(state, m.body)
  },
  encode(state: State, m: ResponseFrame) {
    c.uint.encode(state, m.id)
    c.bool.encode(state, m.ok)
    c.string.encode(state, m.body)
  },
  decode(state: State): ResponseFrame {
    return { id: c.uint.decode(state), ok: c.bool.decode(state), body: c.string.decode(state) }
  },
}

export const eventEncoding = {
  preencode(state: State, m: EventFrame) {
    c.string.preencode(state, m.name)
    c.string.preencode(state, m.body)
  },
  encode(state: State, m: EventFrame) {
    c.string.encode(state, m.name)
    c.string.encode(state, m.body)
  },
  decode(state: State): EventFrame {
    return { name: c.string.decode(state), body: c.string.decode(state) }
  },
}
