// blocks@1's messages on a channel (blocks.ts): requests, responses and the origin's keepalives,
// in compact-encoding.
import type { Channel } from 'protomux'
import c from 'compact-encoding'
import { struct, type Codec } from '../net/wire.ts'

export interface Req {
  id: number
  op: number
  file: number
  start: number
  count: number
}
export interface Res {
  id: number
  error: string
  data: Buffer
}
export interface Alive {
  done: number
  total: number
}

const reqEnc = struct<Req>({ id: c.uint, op: c.uint, file: c.uint, start: c.uint, count: c.uint })
/** compact-encoding decodes an empty buffer as null: a response without data carries an empty one. */
const data: Codec<Buffer> = {
  preencode: (s, v) => c.buffer.preencode(s, v),
  encode: (s, v) => c.buffer.encode(s, v),
  decode: (s) => c.buffer.decode(s) ?? Buffer.alloc(0),
}
const resEnc = struct<Res>({ id: c.uint, error: c.string, data })
const aliveEnc = struct<Alive>({ done: c.uint, total: c.uint })
/** Framing cost per message beyond its payload, for bytes-on-wire accounting (protomux + uints, rounded up). */
export const FRAME_OVERHEAD = 16

export function channelMessages(ch: Channel) {
  return {
    req: ch.addMessage<Req>({ encoding: reqEnc }),
    res: ch.addMessage<Res>({ encoding: resEnc }),
    alive: ch.addMessage<Alive>({ encoding: aliveEnc }),
  }
}
