// blocks@1's messages on a channel (blocks.ts): requests, responses and the origin's keepalives,
// in compact-encoding.
import type { Channel } from 'protomux'
import c from 'compact-encoding'

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

const reqEnc = {
  preencode(s: any, m: Req) {
    for (const k of ['id', 'op', 'file', 'start', 'count'] as const) c.uint.preencode(s, m[k])
  },
  encode(s: any, m: Req) {
    for (const k of ['id', 'op', 'file', 'start', 'count'] as const) c.uint.encode(s, m[k])
  },
  decode(s: any): Req {
    return {
      id: c.uint.decode(s),
      op: c.uint.decode(s),
      file: c.uint.decode(s),
      start: c.uint.decode(s),
      count: c.uint.decode(s),
    }
  },
}
const resEnc = {
  preencode(s: any, m: Res) {
    c.uint.preencode(s, m.id)
    c.string.preencode(s, m.error)
    c.buffer.preencode(s, m.data)
  },
  encode(s: any, m: Res) {
    c.uint.encode(s, m.id)
    c.string.encode(s, m.error)
    c.buffer.encode(s, m.data)
  },
  decode(s: any): Res {
    return { id: c.uint.decode(s), error: c.string.decode(s), data: c.buffer.decode(s) ?? Buffer.alloc(0) }
  },
}
const aliveEnc = {
  preencode(s: any, m: Alive) {
    c.uint.preencode(s, m.done)
    c.uint.preencode(s, m.total)
  },
  encode(s: any, m: Alive) {
    c.uint.encode(s, m.done)
    c.uint.encode(s, m.total)
  },
  decode(s: any): Alive {
    return { done: c.uint.decode(s), total: c.uint.decode(s) }
  },
}
/** Framing cost per message beyond its payload, for bytes-on-wire accounting (protomux + uints, rounded up). */
export const FRAME_OVERHEAD = 16

export function channelMessages(ch: Channel) {
  return {
    req: ch.addMessage<Req>({ encoding: reqEnc }),
    res: ch.addMessage<Res>({ encoding: resEnc }),
    alive: ch.addMessage<Alive>({ encoding: aliveEnc }),
  }
}
