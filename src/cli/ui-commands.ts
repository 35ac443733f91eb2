// `virtuoso tui` (the dashboard against any market) and `virtuoso demo` (= `npm start`: a whole
// local market with real QEMU guests, then the dashboard logged in as its buyer).
import type { Argv } from 'yargs'
import { fail } from './output.ts'
import type { GlobalArgs } from './connect.ts'

export function uiCommands(y: Argv): Argv {
  return y
    .command(
      'tui',
      'the terminal dashboard',
      (a) =>
        a.option('read-only', {
          type: 'boolean',
          default: false,
          describe: 'hide every action that changes the market',
        }),
      async (argv) => {
        const a = argv as unknown as GlobalArgs & { 'read-only': boolean }
        try {
          const { runTui } = await import('../tui/app.tsx')
          await runTui({ market: a.market, bootstrap: a.bootstrap, readOnly: a['read-only'] })
          process.exit(0)
        } catch (err) {
          fail(err, !!a.json)
        }
      },
    )
    .command(
      'demo',
      'a local demo market (DHT, hub, three providers with real QEMU guests) in the dashboard',
      (a) =>
        a
          .option('fresh', {
            type: 'boolean',
            default: false,
            describe: 'start from empty data instead of reusing .virtuoso-demo',
          })
          .option('dir', { type: 'string', default: '.virtuoso-demo', describe: 'where the demo keeps its data' })
          .option('hv', {
            choices: ['qemu', 'test'] as const,
            default: 'qemu' as const,
            describe: 'hypervisor of the demo providers',
          })
          .option('headless', {
            type: 'boolean',
            default: false,
            describe: 'print how to reach the market (JSON) and wait for Ctrl-C instead of opening the dashboard',
          }),
      async (argv) => {
        const json = !!argv.json
        try {
          const { startDemo, DEMO_BUYER } = await import('./demo.ts')
          const demo = await startDemo({ dir: argv.dir, fresh: argv.fresh, hv: argv.hv })
          let stopping = false
          const stop = async () => {
            if (stopping) return
            stopping = true
            await demo.stop()
            process.exit(0)
          }
          process.once('SIGTERM', () => void stop())
          process.once('SIGHUP', () => void stop())
          const hint =
            `market ${demo.market.slice(0, 12)}… on ${demo.bootstrap}; logged in as buyer "${DEMO_BUYER.user}". ` +
            `To act as a provider: press L (log out), then log in as acme, budget or premium (password provider-password).`
          if (argv.headless) {
            process.stdout.write(
              JSON.stringify({ market: demo.market, bootstrap: demo.bootstrap, buyer: DEMO_BUYER.user }) + '\n',
            )
            process.once('SIGINT', () => void stop())
            return
          }
          process.stderr.write(hint + '\n')
          const { runTui } = await import('../tui/app.tsx')
          const me = await demo.buyer.call('whoami')
          await runTui({
            client: demo.buyer,
            identity: { username: me.username, type: me.type },
            market: demo.market,
            bootstrap: demo.bootstrap,
            saveSession: false,
          })
          await stop()
        } catch (err) {
          fail(err, json)
        }
      },
    )
}
