// `virtuoso admin …`: operator commands through the hub's local admin socket (DATA/hub/admin.sock).
import type { Argv } from 'yargs'
import { dirname, join, resolve } from 'node:path'
import { callAdmin } from '../hub/admin-socket.ts'
import { fail, print } from './output.ts'
import { formatMoney } from '../market/pricing.ts'
import * as render from './render.ts'
import { defaultDataDir } from './data-dir.ts'

// The store (LevelDB) loads only for the commands that open one.
const exportFile = () => import('../hub/export-file.ts')

const hubDir = (data: string) => join(resolve(data), 'hub')

export function adminCommands(y: Argv): Argv {
  return y.command(
    'admin',
    "operator commands on the hub's own machine",
    (a) =>
      a
        .option('data', {
          type: 'string',
          default: defaultDataDir(),
          defaultDescription: '$XDG_DATA_HOME/virtuoso or ~/.local/share/virtuoso',
          describe: "the hub's data directory",
        })
        .command(
          'credit <user> <amount>',
          'deposit AMOUNT (e.g. 25.50) into an account',
          (b) => b,
          async (argv) => {
            try {
              const r = await callAdmin(hubDir(argv.data), 'credit', {
                username: String(argv.user),
                amount: String(argv.amount),
              })
              print(!!argv.json, r, () => `credited ${argv.user}: balance now ${formatMoney(r.balance)}`)
            } catch (err) {
              fail(err, !!argv.json)
            }
          },
        )
        .command(
          'export <file>',
          'write every table, from one snapshot, to FILE (the hub may be running)',
          (b) => b,
          async (argv) => {
            try {
              const dir = hubDir(argv.data)
              const file = resolve(String(argv.file))
              const { hubAnswers, exportStopped } = await exportFile()
              const r = (await hubAnswers(dir))
                ? await callAdmin(dir, 'export', { file })
                : await exportStopped(dir, file)
              print(!!argv.json, r, () => `exported ${r.rows} rows (ledger seq ${r.ledgerSeq}) to ${r.file}`)
            } catch (err) {
              fail(err, !!argv.json)
            }
          },
        )
        .command(
          'import <file>',
          'load every table from FILE into a stopped, empty hub (all or nothing)',
          (b) => b,
          async (argv) => {
            try {
              const json = !!argv.json
              const { importFile } = await exportFile()
              const r = await importFile(hubDir(argv.data), resolve(String(argv.file)), {
                onProgress: json ? undefined : (n, total) => process.stdout.write(`importing: ${n} of ${total} rows\n`),
              })
              const images = join(dirname(hubDir(argv.data)), 'images')
              const missing = r.missingImages.map(
                (i) => `\nimage ${i.name}: its file is not in ${images}; copy OLD-DATA/images/${i.digest}/ there`,
              )
              print(
                json,
                r,
                () =>
                  `imported ${r.rows} rows (ledger seq ${r.ledgerSeq}, ${r.accounts} accounts) from ${r.file}` +
                  missing.join(''),
              )
            } catch (err) {
              fail(err, !!argv.json)
            }
          },
        )
        .command(
          'verify',
          "replay the ledger against every account's balance (the hub may be running)",
          (b) => b,
          async (argv) => {
            try {
              const dir = hubDir(argv.data)
              const { hubAnswers, verifyStopped } = await exportFile()
              const r = (await hubAnswers(dir)) ? await callAdmin(dir, 'verify') : await verifyStopped(dir)
              const ok = r.differences.length === 0 && r.problems.length === 0
              print(!!argv.json, { ok, ...r }, () => render.verify(r))
              if (!ok) {
                if (!argv.json) process.stderr.write(`virtuoso: ${dir}: the ledger does not match the balances\n`)
                process.exitCode = 1
              }
            } catch (err) {
              fail(err, !!argv.json)
            }
          },
        )
        .command(
          'image add <name> <file>',
          "publish a raw disk image from the hub's machine in the image catalog",
          (b) => b.option('os', { type: 'string', demandOption: true, describe: 'the OS it installs, e.g. debian-12' }),
          async (argv) => {
            try {
              const r = await callAdmin(hubDir(argv.data), 'image.add', {
                name: String(argv.name),
                os: argv.os,
                file: resolve(String(argv.file)),
              })
              print(!!argv.json, r, () => `added image ${r.name} (${r.os}, ${r.size} bytes, digest ${r.digest})`)
            } catch (err) {
              fail(err, !!argv.json)
            }
          },
        )
        .command(
          'log',
          'the whole event log',
          (b) => b.option('limit', { type: 'number', default: 100 }),
          async (argv) => {
            try {
              const r = await callAdmin(hubDir(argv.data), 'log-all', { limit: argv.limit })
              for (const e of r.events) print(!!argv.json, e, () => render.event(e))
            } catch (err) {
              fail(err, !!argv.json)
            }
          },
        )
        .demandCommand(1, 'admin needs a subcommand: credit, export, import, verify, image add or log'),
    () => {},
  )
}
