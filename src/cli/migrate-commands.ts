// `virtuoso destinations VMID`, `virtuoso migrate VMID --to PMID [--method M]` and `virtuoso migrations`.
// destinations lists where a machine may go with the methods each destination answered to QUERY
// (the hub QUERYs them all at once and reuses the answers for the migrate that follows). The migrate
// command follows the migration's row on the replica feed until it is committed or failed: a live
// progress bar (phase, bytes, rate, ETA, last heartbeat) on a terminal, one line per update
// otherwise, and with --json one {"progress": …} line per update, then the final row (or
// {"error": …} and a non-zero exit when it failed and was reverted).
import type { Argv } from 'yargs'
import { withClient } from '../client/connect.ts'
import type { GlobalArgs } from './options.ts'
import { fail, print, table } from './output.ts'
import { VirtuosoError } from '../errors.ts'
import { bytes as formatBytes } from '../tui/render/format.ts'
import { formatPhases, type MigrationRow } from '../market/migrations.ts'
import { formatMoney } from '../market/pricing.ts'
import type { Destination } from '../vmmp/destinations.ts'
import { CliError, CLI_CONNECTION_CLOSED, CLI_MIGRATION_FAILED } from './errors.ts'

type Args = GlobalArgs & Record<string, any>

/** The CLI's sizes: 48 MiB, 1.5 GiB (one decimal below 10 units). */
export const bytes = (n: number): string => formatBytes(n, 10)

/** One progress line, pure (tests call it). `width` is the bar's width in cells. */
export function progressLine(m: MigrationRow, now = Date.now(), width = 24): string {
  const frac = m.bytesTotal > 0 ? Math.min(1, m.bytesDone / m.bytesTotal) : m.phase === 'committed' ? 1 : 0
  const filled = Math.round(frac * width)
  const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`
  const beat = m.lastHeartbeat ? `${Math.max(0, Math.round((now - m.lastHeartbeat) / 100) / 10)}s ago` : '-'
  const eta = m.eta === null ? '-' : `${m.eta}s`
  return (
    `${m.phase.padEnd(9)} ${bar} ${String(Math.round(frac * 100)).padStart(3)}%  ` +
    `${bytes(m.bytesDone)}/${bytes(m.bytesTotal)}  ${bytes(m.rate)}/s  eta ${eta}  heartbeat ${beat}`
  )
}

export function destinationsTable(r: any): string {
  const rows: Destination[] = r.destinations ?? r
  if (!rows.length) return 'no other provider machine has room for it'
  return table(rows, [
    { header: 'PMID', get: (d) => d.pmId },
    { header: 'NAME', get: (d) => d.name },
    { header: 'OWNER', get: (d) => d.owner },
    {
      header: 'METHODS',
      get: (d) => (d.methods.length ? d.methods.join(',') : `- (${d.error?.message ?? 'no answer'})`),
    },
    { header: 'STORE/DAY', get: (d) => formatMoney(d.storagePerDay), align: 'right' },
    { header: 'RUN/HOUR', get: (d) => formatMoney(d.runningPerHour), align: 'right' },
  ])
}

export function migrationsTable(r: any): string {
  const rows: MigrationRow[] = r.migrations ?? r
  if (!rows.length) return 'no migrations'
  return table(rows, [
    { header: 'ID', get: (m) => m.id.slice(0, 8) },
    { header: 'MACHINE', get: (m) => m.vmName },
    { header: 'FROM', get: (m) => m.from.name },
    { header: 'TO', get: (m) => m.to.name },
    { header: 'METHOD', get: (m) => m.method },
    { header: 'PHASE', get: (m) => m.phase },
    { header: 'MOVED', get: (m) => bytes(m.bytesDone), align: 'right' },
    {
      header: 'TIME',
      get: (m) => (m.finished ? `${((m.finished - m.started) / 1000).toFixed(1)}s` : '-'),
      align: 'right',
    },
    { header: 'PHASES', get: (m) => formatPhases(m.phases, ', ') },
    { header: 'ERROR', get: (m) => m.error?.message ?? '' },
  ])
}

async function migrate(a: Args): Promise<void> {
  const json = !!a.json
  const tty = !json && process.stdout.isTTY
  const final = await withClient(
    a,
    async (c) => {
      let id: string | null = null
      let last: MigrationRow | null = null
      let settle!: (m: MigrationRow) => void
      const done = new Promise<MigrationRow>((resolve) => {
        settle = resolve
      })
      const early: MigrationRow[] = []
      const show = (m: MigrationRow) => {
        if (last && last.bytesDone === m.bytesDone && last.phase === m.phase && last.lastHeartbeat === m.lastHeartbeat)
          return
        last = m
        if (json)
          process.stdout.write(
            JSON.stringify({
              progress: {
                id: m.id,
                phase: m.phase,
                bytesDone: m.bytesDone,
                bytesTotal: m.bytesTotal,
                rate: m.rate,
                eta: m.eta,
                lastHeartbeat: m.lastHeartbeat,
              },
            }) + '\n',
          )
        else if (tty) process.stdout.write(`\r${progressLine(m)}\x1b[K`)
        else process.stdout.write(progressLine(m) + '\n')
        if (m.phase === 'committed' || m.phase === 'failed') settle(m)
      }
      await c.subscribe('now', (_kind, rows) => {
        for (const r of rows) {
          if (r.table !== 'migrations' || !r.value) continue
          const m = r.value as MigrationRow
          if (id === null) early.push(m)
          else if (m.id === id) show(m)
        }
      })
      const begun = await c.call<MigrationRow>('migrate', {
        vmId: a.vmid,
        to: a.to,
        ...(a.method ? { method: a.method } : {}),
      })
      id = begun.id
      show(begun)
      for (const m of early) if (m.id === id) show(m)
      // The feed shows every change; this only guards against a connection that died quietly.
      const lost = new Promise<never>((_, reject) =>
        c.onClose(() =>
          reject(
            new CliError(
              CLI_CONNECTION_CLOSED,
              'lost the connection to the hub; check `virtuoso migrations` for the outcome',
            ),
          ),
        ),
      )
      return Promise.race([done, lost])
    },
    { auth: true },
  )
  if (tty) process.stdout.write('\n')
  if (final.phase === 'failed')
    throw new VirtuosoError(
      final.error?.code ?? CLI_MIGRATION_FAILED,
      `migration failed and was reverted: ${final.error?.message ?? 'unknown reason'}`,
    )
  const secs = final.finished ? ((final.finished - final.started) / 1000).toFixed(1) : '?'
  print(
    json,
    final,
    () =>
      `migrated ${final.vmName} to ${final.to.name} by ${final.method} in ${secs} s (${bytes(final.bytesDone)} ` +
      `moved, version ${final.newVersion})` +
      (final.phases ? `\n  ${formatPhases(final.phases)}` : ''),
  )
}

export function migrateCommands(y: Argv): Argv {
  return y
    .command(
      'migrate <vmid>',
      'move a stored, stopped or suspended machine to another provider machine (VMMP 1.0)',
      (b) =>
        b
          .option('to', {
            type: 'string',
            demandOption: true,
            describe: 'destination physical machine id (from `search`)',
          })
          .option('method', {
            type: 'string',
            coerce: (m: string) => m.toUpperCase(),
            describe: 'transfer method, one the destination offers (`destinations` lists them; default: its first)',
          }),
      async (argv) => {
        try {
          await migrate(argv as unknown as Args)
        } catch (err) {
          fail(err, !!(argv as any).json)
        }
      },
    )
    .command(
      'destinations <vmid>',
      'where a stored machine may migrate, with the methods each destination offers (QUERY)',
      (b) => b,
      async (argv) => {
        const a = argv as unknown as Args
        try {
          const r = await withClient(a, (c) => c.call('destinations', { vmId: a.vmid }), { auth: true })
          print(!!a.json, r, () => destinationsTable(r))
        } catch (err) {
          fail(err, !!a.json)
        }
      },
    )
    .command(
      'migrations',
      'list your migrations and how they went',
      (b) => b,
      async (argv) => {
        const a = argv as unknown as Args
        try {
          const r = await withClient(a, (c) => c.call('migrations', {}), { auth: true })
          print(!!a.json, r, () => migrationsTable(r))
        } catch (err) {
          fail(err, !!a.json)
        }
      },
    )
}
