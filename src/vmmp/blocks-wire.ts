// blocks@1's messages on a channel (blocks.ts): requests, responses and the origin's keepalives,
// in compact-encoding. Sizes are checked before decoding, both ways (issue 11, item 5): a request is
// five small uints, so a longer frame is answered NODE_FRAME_TOO_LARGE from its id alone; a response's
// error text and data are read from their length prefixes and one over its limit is never decoded
// (`tooLarge` set), so that request fails in words while the channel goes on.
import type { Channel } from 'protomux'
import c from 'compact-encoding'
import { bounded, struct, TooLarge, type Codec } from '../net/wire.ts'

export interface Req {
  id: number
  op: number
  file: number
  start: number
  count: number
  /** Set by decode: the frame's size, when it was longer than any request can be (nothing else read). */
  tooLarge?: number
}
export interface Res {
  id: number
  error: string
  data: Buffer
  /** Set by decode: the size of the part over its limit (then error and data are empty). */
  tooLarge?: number
}

/** Five uints of at most 9 bytes each. */
export const MAX_REQUEST_BYTES = 45
/** The largest answer: SPARSE_HASHES, 65,536 hashes of 32 bytes and an 8 KiB bitmap (blocks.ts). */
export const MAX_RESPONSE_DATA = 2 * 1024 * 1024 + 64 * 1024
export const MAX_ERROR_BYTES = 4096
export interface Alive {
  done: number
  total: number
}

const reqStruct = struct<Req>({ id: c.uint, op: c.uint, file: c.uint, start: c.uint, count: c.uint })
const reqEnc: Codec<Req> = {
  preencode: reqStruct.preencode,
  encode: reqStruct.encode,
  decode(state) {
    const size = state.end - state.start
    if (size <= MAX_REQUEST_BYTES) return reqStruct.decode(state)
    const id = c.uint.decode(state)
    state.start = state.end
    return { id, op: 0, file: 0, start: 0, count: 0, tooLarge: size }
  },
}
/** An empty buffer decodes as empty (compact-encoding alone gives null): a response without data. */
const errorText = bounded<string>(MAX_ERROR_BYTES, 'string')
const data = bounded<Buffer>(MAX_RESPONSE_DATA, 'buffer')
export const responseEncoding: Codec<Res> = {
  preencode(state, r) {
    c.uint.preencode(state, r.id)
    errorText.preencode(state, r.error)
    data.preencode(state, r.data)
  },
  encode(state, r) {
    c.uint.encode(state, r.id)
    errorText.encode(state, r.error)
    data.encode(state, r.data)
  },
  decode(state) {
    const id = c.uint.decode(state)
    const error = errorText.decode(state)
    const body = error instanceof TooLarge ? error : data.decode(state)
    const over = error instanceof TooLarge ? error : body instanceof TooLarge ? body : null
    if (over) return { id, error: '', data: Buffer.alloc(0), tooLarge: over.size }
    return { id, error: error as string, data: body as Buffer }
  },
}
const aliveEnc = struct<Alive>({ done: c.uint, total: c.uint })
/** Framing cost per message beyond its payload, for bytes-on-wire accounting (protomux + uints, rounded up). */
export const FRAME_OVERHEAD = 16

export function channelMessages(ch: Channel) {
  return {
    req: ch.addMessage<Req>({ encoding: reqEnc }),
    res: ch.addMessage<Res>({ encoding: responseEncoding }),
    alive: ch.addMessage<Alive>({ encoding: aliveEnc }),
  }
}
