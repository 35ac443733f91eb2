// `virtuoso admin …`: operator commands through the hub's local admin socket (DATA/hub/admin.sock).
import type { Argv } from 'yargs'
import { join, resolve } from 'node:path'
import { callAdmin } from '../hub/admin-socket.ts'
import { fail, print } from './output.ts'
import { formatMoney } from '../market/pricing.ts'
import * as render from './render.ts'

const hubDir = (data: string) => join(resolve(data), 'hub')

export function adminCommands(y: Argv): Argv {
  return y.command(
    'admin',
    "operator commands on the hub's own machine",
    (a) =>
      a
        .option('data', { type: 'string', demandOption: true, describe: "the hub's data directory" })
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
          'write every table to FILE (JSON lines)',
          (b) => b,
          async (argv) => {
            try {
              const r = await callAdmin(hubDir(argv.data), 'export', { file: resolve(String(argv.file)) })
              print(!!argv.json, r, () => `exported ${r.rows} rows to ${r.file}`)
            } catch (err) {
              fail(err, !!argv.json)
            }
          },
        )
        .command(
          'import <file>',
          'load every table from FILE into an empty hub',
          (b) => b,
          async (argv) => {
            try {
              const r = await callAdmin(hubDir(argv.data), 'import', { file: resolve(String(argv.file)) })
              print(!!argv.json, r, () => `imported ${r.rows} rows from ${r.file}`)
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
        .demandCommand(1, 'admin needs a subcommand: credit, export, import or log'),
    () => {},
  )
}
