// The encoder validates exactly as the decoder (issue 11, item 10): for any input, encode() either
// throws VmmpError or emits a frame that decode() accepts and that decodes back to the same message.
// Never a TypeError, never a stringified undefined/null/number, never a duplicate method. Inputs
// come from a seeded generator that mixes valid fields, near misses and values of the wrong type.
import { describe, expect, it } from 'vitest'
import { decode, decodeProgress, encode, encodeProgress, MAX_METHODS } from '../../src/vmmp/codec.ts'
import { VmmpError } from '../../src/vmmp/errors.ts'
import { prng } from '../prng.ts'

const CASES = 20_000
const KEY = 'a'.repeat(64)

function gen(seed: number) {
  const r = prng(seed)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]
  const junk = (): unknown =>
    pick([undefined, null, 0, -0, -1, 1.5, NaN, Infinity, 2 ** 53, '', ' ', 'x y', '<', [], {}, ['RSYNC'], true])
  const id = () =>
    r() < 0.7
      ? pick(['vm1', '2f1c0f52-8a47-4a55-9d1e-3c2d3f1b9e11', 'a.b_c:d-e', 'A'.repeat(128)])
      : pick(['A'.repeat(129), '-x', 'a b', 'é', ...[junk()]])
  const method = () =>
    r() < 0.7 ? pick(['RSYNC', 'SCP', 'X_1', 'A'.repeat(32)]) : pick(['rsync', 'A'.repeat(33), '', junk()])
  const uint = () => (r() < 0.7 ? pick([0, 1, 7, 65535, Number.MAX_SAFE_INTEGER]) : junk())
  const port = () => (r() < 0.7 ? pick([0, 22, 65535]) : pick([65536, -1, 1.5, junk()]))
  const key = () => (r() < 0.8 ? KEY : pick(['A'.repeat(64), 'a'.repeat(63), junk()]))
  const endpoint = () => (r() < 0.85 ? { key: key(), port: port() } : junk())
  const methods = () => {
    if (r() < 0.1) return junk()
    const n = Math.floor(r() * (r() < 0.1 ? MAX_METHODS + 3 : 4))
    return Array.from({ length: n }, method)
  }
  const type = r() < 0.95 ? pick(['QUERY', 'RESULTS', 'REQ', 'HEARTBEAT', 'RESP']) : pick(['PING', junk()])
  const msg: any = { type, id: id() }
  if (type === 'RESULTS') msg.methods = methods()
  if (type === 'REQ') Object.assign(msg, { version: uint(), origin: endpoint(), central: endpoint(), method: method() })
  if (type === 'RESP') Object.assign(msg, { version: uint(), ok: r() < 0.9 ? r() < 0.5 : junk() })
  return r() < 0.01 ? junk() : msg
}

/** The declared fields only: what decode gives back for a valid message. */
function normal(m: any): any {
  const keep: Record<string, string[]> = {
    QUERY: ['type', 'id'],
    RESULTS: ['type', 'id', 'methods'],
    REQ: ['type', 'id', 'version', 'origin', 'central', 'method'],
    HEARTBEAT: ['type', 'id'],
    RESP: ['type', 'id', 'version', 'ok'],
  }
  const out: any = Object.fromEntries(keep[m.type].map((k) => [k, m[k]]))
  for (const e of ['origin', 'central']) if (out[e]) out[e] = { key: out[e].key, port: out[e].port }
  return out
}

describe('VMMP encoder agrees with the decoder', () => {
  it(`${CASES} generated messages: VmmpError or a frame that decodes to the same message`, () => {
    let emitted = 0
    for (let seed = 1; seed <= CASES; seed++) {
      const msg = gen(seed)
      let frame: string
      try {
        frame = encode(msg)
      } catch (err) {
        if (!(err instanceof VmmpError))
          throw new Error(`seed ${seed}: ${String(err)} for ${JSON.stringify(msg)}`, { cause: err })
        continue
      }
      emitted++
      expect(frame, `seed ${seed}`).not.toMatch(/undefined|null|NaN|Infinity|\[object/)
      expect(decode(frame), `seed ${seed}`).toEqual(normal(msg))
    }
    // The generator must exercise both sides, or the property says nothing.
    expect(emitted).toBeGreaterThan(CASES / 10)
    expect(emitted).toBeLessThan(CASES - CASES / 10)
  })

  it('progress frames follow the same rule', () => {
    const r = prng(7)
    const vals = [0, 5, -0, -1, 1.5, NaN, null, undefined, '3', 2 ** 53]
    for (let i = 0; i < 2000; i++) {
      const p: any = {
        id: r() < 0.8 ? 'vm1' : null,
        done: vals[i % vals.length],
        total: vals[Math.floor(r() * vals.length)],
      }
      let frame: string
      try {
        frame = encodeProgress(p)
      } catch (err) {
        expect(err).toBeInstanceOf(VmmpError)
        continue
      }
      expect(decodeProgress(frame)).toEqual({ type: 'PROGRESS', ...p })
    }
    for (const bad of [null, undefined, 5]) expect(() => encodeProgress(bad as any)).toThrow(VmmpError)
  })
})
