// The VMMP 1.0 codec: every message round-trips, anything else is rejected whole with a code, and a
// fuzzer (random bytes, mutations of valid frames) never gets a half-parsed message out of it.
import { describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import {
  answerUnsupported,
  decode,
  decodeExt,
  decodeProgress,
  encode,
  encodeProgress,
  encodeTiming,
  type VmmpMessage,
} from '../../src/vmmp/codec.ts'
import { VmmpError, VmmpVersionError } from '../../src/vmmp/errors.ts'

const ID = '2f1c0f52-8a47-4a55-9d1e-3c2d3f1b9e11'
const K1 = 'a'.repeat(64)
const K2 = '0123456789abcdef'.repeat(4)

const samples: VmmpMessage[] = [
  { type: 'QUERY', id: ID },
  { type: 'RESULTS', id: ID, methods: ['RSYNC', 'SCP'] },
  { type: 'RESULTS', id: ID, methods: [] },
  { type: 'REQ', id: ID, version: 7, origin: { key: K1, port: 0 }, central: { key: K2, port: 0 }, method: 'RSYNC' },
  {
    type: 'REQ',
    id: 'vm1',
    version: 0,
    origin: { key: K2, port: 2222 },
    central: { key: K1, port: 65535 },
    method: 'SCP',
  },
  { type: 'HEARTBEAT', id: ID },
  { type: 'RESP', id: ID, version: 8, ok: true },
  { type: 'RESP', id: ID, version: 8, ok: false },
]

function code(fn: () => unknown): string | null {
  try {
    fn()
    return null
  } catch (err) {
    return (err as VmmpError).code
  }
}

describe('VMMP codec', () => {
  it('encodes the report grammar exactly and round-trips', () => {
    expect(encode(samples[0])).toBe(`<VMMP 1.0 QUERY ${ID} METHODS>`)
    expect(encode(samples[1])).toBe(`<VMMP 1.0 RESULTS ${ID} 2 RSYNC SCP>`)
    expect(encode(samples[3])).toBe(`<VMMP 1.0 REQ ${ID} 7 ${K1} 0 ${K2} 0 RSYNC>`)
    expect(encode(samples[5])).toBe(`<VMMP 1.0 HEARTBEAT ${ID}>`)
    expect(encode(samples[6])).toBe(`<VMMP 1.0 RESP ${ID} 8 SUCCESS>`)
    for (const m of samples) expect(decode(encode(m))).toEqual(m)
  })

  it('rejects malformed frames with VMMP_BAD_MESSAGE', () => {
    const bad = [
      '',
      '<>',
      'VMMP 1.0 QUERY x METHODS',
      `<VMMP 1.0 QUERY ${ID} METHODS`,
      `<VMMP 1.0 QUERY ${ID}>`,
      `<VMMP 1.0 QUERY ${ID} METHODS >`,
      `<VMMP 1.0  QUERY ${ID} METHODS>`,
      `<VMMP 1.0 QUERY ${ID} METHODS>\n`,
      `<VMMP 1.0 RESULTS ${ID} 3 RSYNC SCP>`,
      `<VMMP 1.0 RESULTS ${ID} 1 rsync>`,
      `<VMMP 1.0 RESULTS ${ID} 2 SCP SCP>`,
      `<VMMP 1.0 RESULTS ${ID} 01 SCP>`,
      `<VMMP 1.0 REQ ${ID} 7 ${K1} 0 ${K2} 0>`,
      `<VMMP 1.0 REQ ${ID} 7 ${K1.toUpperCase()} 0 ${K2} 0 SCP>`,
      `<VMMP 1.0 REQ ${ID} 7 ${K1} 65536 ${K2} 0 SCP>`,
      `<VMMP 1.0 REQ ${ID} -1 ${K1} 0 ${K2} 0 SCP>`,
      `<VMMP 1.0 HEARTBEAT ${ID} extra>`,
      `<VMMP 1.0 RESP ${ID} 8 OK>`,
      `<VMMP 1.0 RESP ${ID} 8 SUCCESS><VMMP 1.0 HEARTBEAT ${ID}>`,
      `<VMMP 1.0 PING ${ID}>`,
      `<VMMP 1.0 QUERY bad/id METHODS>`,
      `<VMMP 1.0 QUERY ${'x'.repeat(129)} METHODS>`,
      `<VMMP 1.0 RESP ${ID} 99999999999999999 SUCCESS>`,
      `<VMMP abc QUERY ${ID} METHODS>`,
      `<VMMP 1.0 HEARTBEAT ${ID}é>`,
    ]
    for (const f of bad) expect([f, code(() => decode(f))]).toEqual([f, 'VMMP_BAD_MESSAGE'])
    expect(code(() => decode(42 as unknown as string))).toBe('VMMP_BAD_MESSAGE')
    expect(code(() => encode({ type: 'RESULTS', id: ID, methods: ['bad method'] }))).toBe('VMMP_BAD_MESSAGE')
    expect(code(() => encode({ type: 'RESP', id: 'a b', version: 1, ok: true }))).toBe('VMMP_BAD_MESSAGE')
  })

  it('gives an unknown version its own code and an answer in 1.0', () => {
    let err: unknown
    try {
      decode(`<VMMP 2.0 QUERY ${ID} METHODS WITH EXTRAS>`)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(VmmpVersionError)
    expect((err as VmmpVersionError).code).toBe('VMMP_UNSUPPORTED_VERSION')
    expect((err as VmmpVersionError).version).toBe('2.0')
    expect(answerUnsupported(err as VmmpVersionError, ['RSYNC'])).toEqual({
      type: 'RESULTS',
      id: ID,
      methods: ['RSYNC'],
    })
    try {
      decode(`<VMMP 1.1 REQ ${ID} whatever>`)
    } catch (e) {
      err = e
    }
    expect(answerUnsupported(err as VmmpVersionError, [])).toEqual({ type: 'RESP', id: ID, version: 0, ok: false })
  })

  it('keeps progress in its own extension frame, which the 1.0 decoder refuses', () => {
    const f = encodeProgress({ id: ID, done: 5, total: 10 })
    expect(f).toBe(`<VMMP-X 1.0 PROGRESS ${ID} 5 10>`)
    expect(decodeProgress(f)).toEqual({ type: 'PROGRESS', id: ID, done: 5, total: 10 })
    expect(code(() => decode(f))).toBe('VMMP_BAD_MESSAGE')
    expect(code(() => decodeProgress(`<VMMP 1.0 HEARTBEAT ${ID}>`))).toBe('VMMP_BAD_MESSAGE')
  })

  it('carries the destination phase times in a TIMING extension frame, checked like PROGRESS', () => {
    const f = encodeTiming({ id: ID, copyMs: 1200, verifyMs: 40 })
    expect(f).toBe(`<VMMP-X 1.0 TIMING ${ID} 1200 40>`)
    expect(decodeExt(f)).toEqual({ type: 'TIMING', id: ID, copyMs: 1200, verifyMs: 40 })
    expect(decodeExt(encodeProgress({ id: ID, done: 1, total: 2 }))).toMatchObject({ type: 'PROGRESS' })
    expect(code(() => decode(f))).toBe('VMMP_BAD_MESSAGE')
    expect(code(() => decodeExt(`<VMMP-X 1.0 TIMING ${ID} 12>`))).toBe('VMMP_BAD_MESSAGE')
    expect(code(() => decodeExt(`<VMMP-X 1.0 TIMING ${ID} -1 4>`))).toBe('VMMP_BAD_MESSAGE')
    expect(code(() => encodeTiming({ id: ID, copyMs: 1.5, verifyMs: 0 }))).toBe('VMMP_BAD_MESSAGE')
    expect(code(() => decodeExt(`<VMMP-X 2.0 TIMING ${ID} 1 2>`))).toBe('VMMP_UNSUPPORTED_VERSION')
  })

  it('fuzz: random bytes and mutations never half-parse', () => {
    const valid = samples.map(encode)
    const alphabet = '<> VMPQUERYSTLH.0123456789abcdefAZ-_:\n\t'
    let accepted = 0
    const rand = (n: number) => Math.floor(Math.random() * n)
    for (let i = 0; i < 4000; i++) {
      let frame: string
      const kind = i % 4
      if (kind === 0) frame = randomBytes(rand(80)).toString('latin1')
      else {
        const base = valid[rand(valid.length)]
        const chars = [...base]
        const edits = 1 + rand(3)
        for (let e = 0; e < edits; e++) {
          const at = rand(chars.length + 1)
          const op = kind === 1 ? rand(3) : kind
          const ch = alphabet[rand(alphabet.length)]
          if (op === 0 || op === 3) chars.splice(at, 1)
          else if (op === 1) chars.splice(at, 0, ch)
          else chars[Math.min(at, chars.length - 1)] = ch
        }
        frame = chars.join('')
      }
      let msg: VmmpMessage | null
      try {
        msg = decode(frame)
      } catch (err) {
        expect(err).toBeInstanceOf(VmmpError)
        expect(['VMMP_BAD_MESSAGE', 'VMMP_UNSUPPORTED_VERSION']).toContain((err as VmmpError).code)
        continue
      }
      // Whatever is accepted is canonical: it re-encodes to exactly the bytes that came in.
      expect(encode(msg)).toBe(frame)
      accepted++
    }
    expect(accepted).toBeGreaterThan(0)
  })
})
