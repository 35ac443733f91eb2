// signup, login, logout, log: the commands that read a password, keep the session in the
// profile, or follow the change feed.
import type { Argv } from 'yargs'
import { connect, resolveTarget, withClient } from '../client/connect.ts'
import type { GlobalArgs } from './options.ts'
import { fail, print } from './output.ts'
import { readPassword } from './password.ts'
import { clearSession, readProfile, writeProfile } from '../client/profile.ts'
import { MarketClient } from '../client/market-client.ts'
import * as render from './render.ts'
import type { EventRow } from '../market/types.ts'
import { CliError, CLI_CONNECTION_CLOSED } from './errors.ts'

type Args = GlobalArgs & Record<string, any>

export function sessionCommands(y: Argv): Argv {
  return y
    .command(
      'signup',
      'create a buyer or provider account',
      (a) =>
        a
          .option('user', { type: 'string', demandOption: true })
          .option('type', { choices: ['buyer', 'provider'], demandOption: true })
          .option('email', { type: 'string', demandOption: true })
          .option('password-stdin', { type: 'boolean', default: false }),
      async (argv) => {
        const a = argv as unknown as Args
        try {
          const password = await readPassword({ stdin: a['password-stdin'], confirm: true })
          const r = await withClient(a, (c) =>
            c.call('signup', { username: a.user, type: a.type, email: a.email, password }),
          )
          print(!!a.json, r, () => `account ${a.user} (${a.type}) created; now \`virtuoso login --user ${a.user}\``)
        } catch (err) {
          fail(err, !!a.json)
        }
      },
    )
    .command(
      'login',
      'log in and keep the session in your profile (mode 0600)',
      (a) =>
        a
          .option('user', { type: 'string', demandOption: true })
          .option('password-stdin', { type: 'boolean', default: false }),
      async (argv) => {
        const a = argv as unknown as Args
        try {
          const { market, bootstrap } = await resolveTarget(a)
          const password = await readPassword({ stdin: a['password-stdin'] })
          const r = await withClient(a, (c) => c.call('login', { username: a.user, password }))
          await writeProfile({
            market,
            bootstrap,
            user: r.identity.username,
            type: r.identity.type,
            token: r.token,
            expires: r.expires,
          })
          print(
            !!a.json,
            { user: r.identity, expires: r.expires },
            () => `logged in as ${a.user} (${r.identity.type}) until ${new Date(r.expires).toISOString()}`,
          )
        } catch (err) {
          fail(err, !!a.json)
        }
      },
    )
    .command(
      'logout',
      'end the session on the hub and forget it here',
      (a) => a,
      async (argv) => {
        const a = argv as unknown as Args
        try {
          const p = await readProfile()
          // Forget the session here even if the hub is away.
          if (p?.token) await withClient(a, (c) => c.call('logout', {}), { auth: true }).catch(() => {})
          await clearSession()
          print(!!a.json, { ok: true }, () => 'logged out')
        } catch (err) {
          fail(err, !!a.json)
        }
      },
    )
    .command(
      'log',
      'the event log of what concerns you',
      (a) =>
        a
          .option('follow', { alias: 'f', type: 'boolean', default: false })
          .option('limit', { type: 'number', default: 50 }),
      async (argv) => {
        const a = argv as unknown as Args
        try {
          const client = await connect(a, { auth: true })
          const r = await client.call<{ events: EventRow[] }>('log', { limit: a.limit })
          for (const e of r.events) print(!!a.json, e, () => render.event(e))
          if (!a.follow) return await client.close()
          await follow(client, (e) => print(!!a.json, e, () => render.event(e)))
        } catch (err) {
          fail(err, !!a.json)
        }
      },
    )
}

/** Print new events as the hub commits them, until the connection or the process ends. */
function follow(client: MarketClient, onEvent: (e: EventRow) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let seenSnapshot = false
    client.onClose(() => reject(new CliError(CLI_CONNECTION_CLOSED, 'the hub closed the connection')))
    client
      .subscribe(-1, (kind, rows) => {
        if (kind === 'snapshot') {
          seenSnapshot = true
          return
        } // already printed by the `log` call
        for (const c of rows) if (c.table === 'events' && c.value) onEvent(c.value as EventRow)
      })
      .catch(reject)
    void seenSnapshot
    process.once('SIGINT', () => {
      void client.close().then(resolve)
    })
  })
}
