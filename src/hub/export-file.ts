// The hub's tables to and from an export file (format: src/market/snapshot.ts), and the ledger check
// of a data directory. Export runs inside the running hub (admin socket) or on a stopped one; import
// only ever into a stopped, empty hub, built beside it and swapped in whole (src/market/swap.ts), so
// a file that is damaged, does not balance, or an import killed halfway changes nothing.
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises'
import { createConnection } from 'node:net'
import { dirname, isAbsolute, join } from 'node:path'
import { StringDecoder } from 'node:string_decoder'
import { Store } from '../market/store.ts'
import { RawWriter } from '../market/raw-writer.ts'
import { ALL_TABLES, type TableName } from '../market/rows.ts'
import { hubError } from './errors.ts'
import { exportRows, formatHeader, HEADER_BYTES, parseHeader, Replay, verifyStore } from '../market/snapshot.ts'
import type { ExportHeader, ReplayResult } from '../market/snapshot.ts'
import { settleSwap, stagingDir, swapIn } from '../market/swap.ts'
import { ADMIN_SOCKET } from './admin-socket.ts'
import { ImageStore } from '../vmmp/image-store.ts'
import { HUB_SERVER } from '../market/images.ts'

/** An import reports progress every this many rows. */
export const PROGRESS_ROWS = 50_000

export interface ExportResult {
  file: string
  rows: number
  ledgerSeq: number
  sha256: string
  bytes: number
}

/** Writes every table of `store`, from one snapshot, to `file` (via a temp file renamed into place). */
export async function exportFile(store: Store, file: string): Promise<ExportResult> {
  const tmp = `${file}.part-${randomBytes(6).toString('hex')}` // two exports to one file never share it
  const fh = await open(tmp, 'w', 0o600).catch((err) => {
    throw hubError.badInput('file', `cannot write ${file}: ${err.message}`, err)
  })
  const stats = { rows: 0, ledgerSeq: 0 }
  const hash = createHash('sha256')
  let pos = HEADER_BYTES
  // One write in flight while the next batch is read: the disk and LevelDB work side by side.
  let writing: Promise<unknown> = Promise.resolve()
  try {
    for await (const lines of exportRows(store, stats)) {
      if (!lines.length) continue
      const buf = Buffer.from(lines.join('\n') + '\n')
      hash.update(buf)
      await writing
      writing = fh.write(buf, 0, buf.length, pos)
      writing.catch(() => {}) // awaited on the next turn; until then a failure must not count as unhandled
      pos += buf.length
    }
    await writing
    const sha256 = hash.digest('hex')
    await fh.write(formatHeader({ ledgerSeq: stats.ledgerSeq, rows: stats.rows, sha256 }), 0)
    await fh.sync()
    await fh.close()
    await rename(tmp, file)
    return { file, rows: stats.rows, ledgerSeq: stats.ledgerSeq, sha256, bytes: pos }
  } catch (err) {
    await writing.catch(() => {})
    await fh.close().catch(() => {})
    await rm(tmp, { force: true })
    throw err
  }
}

/** True when a hub answers on the admin socket of `hubDir`. */
export function hubAnswers(hubDir: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection(join(hubDir, ADMIN_SOCKET))
    sock.on('connect', () => {
      sock.destroy()
      resolve(true)
    })
    sock.on('error', () => resolve(false))
  })
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  )
}

/** Opens the store of a stopped hub; a hub holding it (LevelDB's lock) is MARKET_HUB_RUNNING. */
export async function openStopped(hubDir: string, what: string, snapshotOnly = false): Promise<Store> {
  try {
    return await Store.open(hubDir, { snapshotOnly })
  } catch (err: any) {
    if (err?.code === 'LEVEL_LOCKED' || err?.cause?.code === 'LEVEL_LOCKED') throw hubError.running(hubDir, what)
    throw err
  }
}

async function openExisting(hubDir: string, what: string): Promise<Store> {
  if (!(await exists(hubDir)) && !(await exists(`${hubDir}.replaced`)))
    throw hubError.badInput('data', `${hubDir} holds no hub: give the data directory the hub runs with`)
  return openStopped(hubDir, what, true)
}

/** Export of a stopped hub (a running one exports itself, through the admin socket). */
export async function exportStopped(hubDir: string, file: string): Promise<ExportResult> {
  const store = await openExisting(hubDir, 'this export')
  try {
    return await exportFile(store, file)
  } finally {
    await store.close()
  }
}

/** The ledger of a stopped hub replayed against its balances. */
export async function verifyStopped(hubDir: string): Promise<ReplayResult> {
  const store = await openExisting(hubDir, 'this verify')
  try {
    return await verifyStore(store)
  } finally {
    await store.close()
  }
}

export interface ImportResult {
  file: string
  rows: number
  ledgerSeq: number
  accounts: number
  /** Catalog images the hub serves whose files are not in its image store (DATA/images): the export
   *  holds the tables, not the files; copy `OLD-DATA/images/DIGEST/` over, as README says. */
  missingImages: Array<{ name: string; digest: string }>
}

/** The files LevelDB keeps in a store's directory. */
const STORE_FILE = /^(CURRENT|LOCK|LOG|LOG\.old|MANIFEST-\d+|\d+\.(ldb|log|sst|dbtmp))$/

/** What makes a store not empty: a fresh hub holds only the seeded configurations. */
function contents(store: Store): string | null {
  const users = store.rows('users').size
  const vms = store.rows('vm').size
  const pms = store.rows('pm').size
  const ledger = store.seq('ledger')
  if (!users && !vms && !pms && !ledger) return null
  return `${users} accounts, ${pms} provider machines, ${vms} machines, ${ledger} ledger entries`
}

/** Loads an export into the stopped, empty hub at `hubDir`, whole or not at all. */
export async function importFile(
  hubDir: string,
  file: string,
  opts: { onProgress?: (rows: number, total: number) => void } = {},
): Promise<ImportResult> {
  const header = await readHeader(file)
  if (await hubAnswers(hubDir)) throw hubError.running(hubDir, 'import')
  await mkdir(dirname(hubDir), { recursive: true, mode: 0o700 })
  await settleSwap(hubDir)
  const created = !(await exists(hubDir))
  // The swap replaces the whole directory: refuse one that holds anything but a store (never delete it).
  const foreign = created ? undefined : (await readdir(hubDir)).find((f) => !STORE_FILE.test(f) && f !== ADMIN_SOCKET)
  if (foreign) throw hubError.notEmpty(hubDir, `${foreign}, which is not part of a hub's store`)
  // Held open until the swap: LevelDB's lock keeps a hub from starting on the old store meanwhile.
  const target = await openStopped(hubDir, 'import')
  let swapped = false
  try {
    const held = contents(target)
    if (held) throw hubError.notEmpty(hubDir, held)
    const staging = stagingDir(hubDir)
    await rm(staging, { recursive: true, force: true }) // what a killed import left
    const writer = await RawWriter.create(staging)
    let result: ImportResult
    try {
      const replay = new Replay()
      const served: Array<{ name: string; digest: string }> = []
      const rows = await readRows(
        file,
        header,
        (table, key, value, raw) => {
          replay.row(table, key, value)
          const img = value as { name?: unknown; digest?: unknown; servers?: unknown } | null
          if (table === 'images' && Array.isArray(img?.servers) && img.servers.includes(HUB_SERVER))
            served.push({ name: String(img.name), digest: String(img.digest) })
          return writer.put(table, key, raw) ? writer.flush() : undefined
        },
        opts.onProgress,
      )
      result = { file, rows, ...check(file, header, rows, replay.result()), missingImages: [] }
      const images = new ImageStore(join(dirname(hubDir), 'images'))
      for (const img of served) if (!(await images.has(img.digest))) result.missingImages.push(img)
      await writer.close(true)
    } catch (err) {
      await writer.close(false).catch(() => {})
      await rm(staging, { recursive: true, force: true })
      throw err
    }
    await swapIn(hubDir, staging, async () => {
      swapped = true
      await target.close()
    })
    return result
  } finally {
    if (!swapped) {
      await target.close()
      if (created) await rm(hubDir, { recursive: true, force: true })
    }
  }
}

function check(file: string, header: ExportHeader, rows: number, r: ReplayResult) {
  if (rows !== header.rows) throw hubError.exportInvalid(file, `${rows} rows where its header says ${header.rows}`)
  if (r.ledgerSeq !== header.ledgerSeq)
    throw hubError.exportInvalid(file, `its ledger ends at ${r.ledgerSeq} where its header says ${header.ledgerSeq}`)
  if (r.problems.length) throw hubError.unbalanced(file, r.problems.join('; '))
  if (r.differences.length) throw hubError.unbalanced(file, describeDifferences(r))
  return { ledgerSeq: r.ledgerSeq, accounts: r.accounts }
}

export function describeDifferences(r: ReplayResult): string {
  const shown = r.differences
    .slice(0, 3)
    .map((d) => `${d.username}: balance ${d.balance ?? 'no account'}, ledger ${d.ledger}`)
  const more = r.differences.length > 3 ? `, and ${r.differences.length - 3} more` : ''
  return `${r.differences.length} accounts differ: ${shown.join('; ')}${more}`
}

async function readHeader(file: string): Promise<ExportHeader> {
  const fh = await open(file, 'r').catch((err) => {
    throw hubError.badInput('file', `cannot read ${file}: ${err.message}`, err)
  })
  try {
    const buf = Buffer.alloc(HEADER_BYTES)
    const { bytesRead } = await fh.read(buf, 0, HEADER_BYTES, 0)
    if (bytesRead < HEADER_BYTES || buf[HEADER_BYTES - 1] !== 0x0a)
      throw hubError.exportInvalid(file, 'its first line is not an export header')
    const h = parseHeader(buf.toString('utf8'))
    if (typeof h === 'string') throw hubError.exportInvalid(file, h)
    return h
  } finally {
    await fh.close()
  }
}

/** Reads, checks and hands over every row line; the digest is checked once the last byte is read. */
async function readRows(
  file: string,
  header: ExportHeader,
  each: (table: TableName, key: string, value: unknown, raw: string) => Promise<void> | undefined,
  onProgress?: (rows: number, total: number) => void,
): Promise<number> {
  const known = new Set<string>(ALL_TABLES)
  const hash = createHash('sha256')
  const decoder = new StringDecoder('utf8')
  let rest = ''
  let rows = 0
  const line = (text: string): Promise<void> | undefined => {
    let row: any
    try {
      row = JSON.parse(text)
    } catch {
      throw hubError.exportInvalid(file, `line ${rows + 2} is not JSON`)
    }
    if (!row || !known.has(row.table) || typeof row.key !== 'string' || !('value' in row))
      throw hubError.exportInvalid(file, `line ${rows + 2} is not a {table, key, value} row of a known table`)
    const raw = JSON.stringify(row.value) // what the store held: values are stored as JSON.stringify wrote them
    if (++rows % PROGRESS_ROWS === 0) onProgress?.(rows, header.rows)
    return each(row.table, row.key, row.value, raw)
  }
  for await (const chunk of createReadStream(file, { start: HEADER_BYTES, highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer)
    rest += decoder.write(chunk as Buffer)
    let from = 0
    let nl: number
    while ((nl = rest.indexOf('\n', from)) >= 0) {
      const full = line(rest.slice(from, nl))
      if (full) await full // only when a batch is written: one await per row would double the time
      from = nl + 1
    }
    rest = rest.slice(from)
  }
  rest += decoder.end()
  if (rest) await line(rest)
  if (hash.digest('hex') !== header.sha256)
    throw hubError.exportInvalid(file, 'its sha256 does not match its header: it was changed or cut short')
  return rows
}

/** The admin-socket methods of a running hub that this file serves; undefined for any other method. */
export function snapshotAdminCall(
  store: Store,
  hubDir: string,
  method: string,
  params: unknown,
): Promise<unknown> | undefined {
  const p = (params ?? {}) as Record<string, unknown>
  const only = (...names: string[]) => {
    const extra = Object.keys(p).find((k) => !names.includes(k))
    if (extra) throw hubError.badInput(method, `unknown field "${extra.slice(0, 40)}"`)
  }
  switch (method) {
    case 'import':
      return Promise.reject(hubError.running(hubDir, 'import'))
    case 'verify':
      only()
      return verifyStore(store)
    case 'export': {
      only('file')
      const file = p.file
      if (typeof file !== 'string' || file.length > 4096 || !isAbsolute(file))
        throw hubError.badInput('file', 'give an absolute path (the hub resolves nothing against its own directory)')
      return exportFile(store, file)
    }
  }
  return undefined
}
