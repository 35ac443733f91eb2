// VMMP 1.0 (report §7.2.1) as text frames, exactly five messages, grammar in GRAMMAR.md.
// Strict by design: a frame either parses completely into one typed message or is rejected with a
// reason. Nothing is half-parsed, because the hub acts on these (a misread REQ would move a machine).
import { VmmpError, VmmpVersionError, vmmpError } from './errors.ts'

export const VMMP_VERSION = '1.0'
export const SUPPORTED_VERSIONS: readonly string[] = ['1.0']
/** No legal 1.0 frame comes near this: a cap keeps a hostile peer from making us scan megabytes. */
export const MAX_FRAME_CHARS = 2048
export const MAX_METHODS = 32

export interface Endpoint {
  /** Node public key, 64 lowercase hex chars (the report's IP). */
  key: string
  /** 0 = reach the node over its HyperDHT connection; else a TCP port on it (e.g. the origin's SSH server for SCP). */
  port: number
}

export type VmmpMessage =
  | { type: 'QUERY'; id: string }
  | { type: 'RESULTS'; id: string; methods: string[] }
  | { type: 'REQ'; id: string; version: number; origin: Endpoint; central: Endpoint; method: string }
  | { type: 'HEARTBEAT'; id: string }
  | { type: 'RESP'; id: string; version: number; ok: boolean }

/** Extension frame, sent as a separate protomux message type on vmmp@1 so 1.0 peers never see it. */
export interface VmmpProgress {
  type: 'PROGRESS'
  id: string
  done: number
  total: number
}

/** Extension frame: where the destination's time went (copy, then verify + register), sent before RESP. */
export interface VmmpTiming {
  type: 'TIMING'
  id: string
  copyMs: number
  verifyMs: number
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/
const METHOD = /^[A-Z][A-Z0-9_]{0,31}$/
const KEY = /^[0-9a-f]{64}$/
const UINT = /^(0|[1-9][0-9]{0,15})$/
const VERSION_TOKEN = /^[0-9]{1,3}\.[0-9]{1,3}$/

function uint(tok: string, what: string, max = Number.MAX_SAFE_INTEGER): number {
  if (!UINT.test(tok)) throw vmmpError.bad(`${what} '${clip(tok)}' is not a decimal integer without leading zeros`)
  const n = Number(tok)
  if (n > max) throw vmmpError.bad(`${what} ${tok} exceeds ${max}`)
  return n
}

function clip(v: unknown): string {
  const s = typeof v === 'string' ? v : typeof v
  const t = s.length > 40 ? s.slice(0, 40) + '…' : s
  return t.replace(/[^\x20-\x7e]/g, '?')
}

// Every check tests the type first: a RegExp coerces its argument, so undefined, null or ['X']
// would otherwise pass as the strings 'undefined', 'null' or 'X' and be sent.
function checkFrameId(id: string): string {
  if (typeof id !== 'string' || !ID.test(id))
    throw vmmpError.bad(`machine id '${clip(id)}' must be 1-128 chars of A-Z a-z 0-9 . _ : -`)
  return id
}

function checkMethod(m: string): string {
  if (typeof m !== 'string' || !METHOD.test(m))
    throw vmmpError.bad(`method '${clip(m)}' must be an upper-case name like RSYNC`)
  return m
}

function endpoint(key: string, port: string, what: string): Endpoint {
  if (!KEY.test(key)) throw vmmpError.bad(`${what} key must be 64 lowercase hex chars`)
  return { key, port: uint(port, `${what} port`, 65535) }
}

function checkVersion(v: number, what: string): string {
  if (!Number.isSafeInteger(v) || v < 0 || Object.is(v, -0))
    throw vmmpError.bad(`${what} must be a non-negative safe integer`)
  return String(v)
}

function checkEndpoint(e: Endpoint, what: string): string {
  if (!e || typeof e !== 'object' || typeof e.key !== 'string' || !KEY.test(e.key))
    throw vmmpError.bad(`${what} key must be 64 lowercase hex chars`)
  if (!Number.isInteger(e.port) || e.port < 0 || e.port > 65535 || Object.is(e.port, -0))
    throw vmmpError.bad(`${what} port must be 0-65535`)
  return `${e.key} ${e.port}`
}

/** Encode a message; validates every field so we never emit a frame a strict peer would reject. */
export function encode(msg: VmmpMessage): string {
  if (!msg || typeof msg !== 'object') throw vmmpError.bad('a message must be an object')
  if (typeof msg.type !== 'string') throw vmmpError.bad('a message needs a type')
  const head = `<VMMP ${VMMP_VERSION} ${msg.type} ${checkFrameId(msg.id)}`
  switch (msg.type) {
    case 'QUERY':
      return `${head} METHODS>`
    case 'RESULTS':
      if (!Array.isArray(msg.methods) || msg.methods.length > MAX_METHODS)
        throw vmmpError.bad(`at most ${MAX_METHODS} methods`)
      if (new Set(msg.methods).size !== msg.methods.length) throw vmmpError.bad('RESULTS lists a method twice')
      return `${head} ${[String(msg.methods.length), ...msg.methods.map(checkMethod)].join(' ')}>`
    case 'REQ':
      return (
        `${head} ${checkVersion(msg.version, 'VERSION')} ${checkEndpoint(msg.origin, 'ORIG')} ` +
        `${checkEndpoint(msg.central, 'CENTRAL')} ${checkMethod(msg.method)}>`
      )
    case 'HEARTBEAT':
      return `${head}>`
    case 'RESP':
      if (typeof msg.ok !== 'boolean') throw vmmpError.bad('RESP needs ok: boolean')
      return `${head} ${checkVersion(msg.version, "VERSION'")} ${msg.ok ? 'SUCCESS' : 'FAIL'}>`
    default:
      throw vmmpError.bad(`unknown message type '${clip(String((msg as { type: unknown }).type))}'`)
  }
}

/** Split a frame into tokens after checking the envelope; shared by the 1.0 and extension decoders. */
function lex(text: unknown, magic: string): string[] {
  if (typeof text !== 'string') throw vmmpError.bad('frame is not text')
  if (text.length > MAX_FRAME_CHARS) throw vmmpError.bad(`frame longer than ${MAX_FRAME_CHARS} chars`)
  if (!/^[\x20-\x7e]*$/.test(text)) throw vmmpError.bad('frame has characters outside printable ASCII')
  if (!text.startsWith('<') || !text.endsWith('>') || text.length < 3) throw vmmpError.bad("frame must be '<…>'")
  const body = text.slice(1, -1)
  if (body.includes('<') || body.includes('>')) throw vmmpError.bad('one message per frame')
  const toks = body.split(' ')
  if (toks.some((t) => t === '')) throw vmmpError.bad('tokens are separated by exactly one space')
  if (toks[0] !== magic) throw vmmpError.bad(`frame does not start with '${magic}'`)
  if (toks.length < 4) throw vmmpError.bad('frame too short')
  return toks
}

function arity(toks: string[], n: number, shape: string): void {
  if (toks.length !== n) throw vmmpError.bad(`${toks[2]} takes ${n - 3} fields: ${shape}`)
}

/** Decode one frame. Throws VMMP_BAD_MESSAGE with a reason, or VMMP_UNSUPPORTED_VERSION (a VmmpVersionError). */
export function decode(text: string): VmmpMessage {
  const toks = lex(text, 'VMMP')
  const [, version, type, id] = toks
  if (version !== VMMP_VERSION) {
    if (!VERSION_TOKEN.test(version)) throw vmmpError.bad(`version '${clip(version)}' is not MAJOR.MINOR`)
    // Best effort on what it was, so the receiver can answer the same id in a version we speak.
    throw new VmmpVersionError(
      version,
      SUPPORTED_VERSIONS,
      /^[A-Z]{1,16}$/.test(type) ? type : null,
      ID.test(id) ? id : null,
    )
  }
  checkFrameId(id)
  switch (type) {
    case 'QUERY':
      arity(toks, 5, 'id METHODS')
      if (toks[4] !== 'METHODS') throw vmmpError.bad('QUERY must end with the word METHODS')
      return { type, id }
    case 'RESULTS': {
      if (toks.length < 5) throw vmmpError.bad('RESULTS takes id N M1 … MN')
      const n = uint(toks[4], 'N', MAX_METHODS)
      if (toks.length !== 5 + n) throw vmmpError.bad(`RESULTS says N=${n} but lists ${toks.length - 5} methods`)
      const methods = toks.slice(5).map(checkMethod)
      if (new Set(methods).size !== methods.length) throw vmmpError.bad('RESULTS lists a method twice')
      return { type, id, methods }
    }
    case 'REQ':
      arity(toks, 10, 'id VERSION ORIG_KEY ORIG_PORT CENTRAL_KEY CENTRAL_PORT METHOD')
      return {
        type,
        id,
        version: uint(toks[4], 'VERSION'),
        origin: endpoint(toks[5], toks[6], 'ORIG'),
        central: endpoint(toks[7], toks[8], 'CENTRAL'),
        method: checkMethod(toks[9]),
      }
    case 'HEARTBEAT':
      arity(toks, 4, 'id')
      return { type, id }
    case 'RESP': {
      arity(toks, 6, "id VERSION' SUCCESS|FAIL")
      const v = uint(toks[4], "VERSION'")
      if (toks[5] !== 'SUCCESS' && toks[5] !== 'FAIL') throw vmmpError.bad('RESP ends with SUCCESS or FAIL')
      return { type, id, version: v, ok: toks[5] === 'SUCCESS' }
    }
    default:
      throw vmmpError.bad(`unknown message type '${clip(type)}'`)
  }
}

/** `<VMMP-X 1.0 PROGRESS id DONE TOTAL>`: the one extension frame (see GRAMMAR.md). */
export function encodeProgress(p: Omit<VmmpProgress, 'type'>): string {
  if (!p || typeof p !== 'object') throw vmmpError.bad('progress must be an object')
  const bad = (n: number) => !Number.isSafeInteger(n) || n < 0 || Object.is(n, -0)
  if (bad(p.done) || bad(p.total)) throw vmmpError.bad('progress needs non-negative integers')
  return `<VMMP-X ${VMMP_VERSION} PROGRESS ${checkFrameId(p.id)} ${p.done} ${p.total}>`
}

/** `<VMMP-X 1.0 TIMING id COPYMS VERIFYMS>`: the destination's phase times, in ms (see GRAMMAR.md). */
export function encodeTiming(t: Omit<VmmpTiming, 'type'>): string {
  if (!t || typeof t !== 'object') throw vmmpError.bad('timing must be an object')
  const bad = (n: number) => !Number.isSafeInteger(n) || n < 0 || Object.is(n, -0)
  if (bad(t.copyMs) || bad(t.verifyMs)) throw vmmpError.bad('timing needs non-negative integers')
  return `<VMMP-X ${VMMP_VERSION} TIMING ${checkFrameId(t.id)} ${t.copyMs} ${t.verifyMs}>`
}

/** Any extension frame: PROGRESS or TIMING. */
export function decodeExt(text: string): VmmpProgress | VmmpTiming {
  const toks = lex(text, 'VMMP-X')
  if (toks[2] !== 'TIMING') return decodeProgress(text)
  if (toks[1] !== VMMP_VERSION) throw new VmmpVersionError(toks[1], SUPPORTED_VERSIONS, toks[2] ?? null, null)
  if (toks.length !== 6) throw vmmpError.bad('TIMING takes id COPYMS VERIFYMS')
  return {
    type: 'TIMING',
    id: checkFrameId(toks[3]),
    copyMs: uint(toks[4], 'COPYMS'),
    verifyMs: uint(toks[5], 'VERIFYMS'),
  }
}

export function decodeProgress(text: string): VmmpProgress {
  const toks = lex(text, 'VMMP-X')
  if (toks[1] !== VMMP_VERSION) throw new VmmpVersionError(toks[1], SUPPORTED_VERSIONS, toks[2] ?? null, null)
  if (toks[2] !== 'PROGRESS') throw vmmpError.bad(`unknown extension '${clip(toks[2])}'`)
  if (toks.length !== 6) throw vmmpError.bad('PROGRESS takes id DONE TOTAL')
  return { type: 'PROGRESS', id: checkFrameId(toks[3]), done: uint(toks[4], 'DONE'), total: uint(toks[5], 'TOTAL') }
}

/** What a 1.0 receiver answers to a frame in a version it does not speak (GRAMMAR.md §Versions):
 *  a QUERY gets our RESULTS, anything else with an id gets RESP FAIL; null when there is no id to answer. */
export function answerUnsupported(err: VmmpVersionError, methods: string[]): VmmpMessage | null {
  if (!err.id) return null
  if (err.kind === 'QUERY') return { type: 'RESULTS', id: err.id, methods }
  if (err.kind === 'REQ') return { type: 'RESP', id: err.id, version: 0, ok: false }
  return null
}

export function isVmmpError(err: unknown): err is VmmpError {
  return err instanceof VmmpError
}
