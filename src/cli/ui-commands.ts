// `virtuoso tui` (the dashboard against any market) and `virtuoso demo` (= `npm start`: a whole
// local market with real QEMU guests, then the dashboard logged in as its buyer).
import type { Argv } from 'yargs'
import { fail } from './output.ts'
import { loadDashboard } from './dashboard.ts'
import { defaultDemoDir } from './data-dir.ts'
import type { GlobalArgs } from './options.ts'

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
          const { runTui } = await loadDashboard()
          await runTui({ market: a.market, bootstrap: a.bootstrap, readOnly: a['read-only'] })
          process.exit(0)
        } catch (err) {
          fail(err, !!a.json)
        }
      },
    )
    .command(
      'demo',
      'a local demo market (DHT, hub, three providers with real QEMU guests) in the dashboard; ' +
        'runs the set-up step first',
      (a) =>
        a
          .option('fresh', {
            type: 'boolean',
            default: false,
            describe: 'start from empty data instead of reusing the demo directory',
          })
          .option('dir', {
            type: 'string',
            default: defaultDemoDir(),
            defaultDescription: '$XDG_DATA_HOME/virtuoso/demo or ~/.local/share/virtuoso/demo',
            describe: 'where the demo keeps its data',
          })
          .option('hv', {
            choices: ['auto', 'qemu', 'test'] as const,
            default: 'auto' as const,
            describe: 'hypervisor of the demo providers (auto: QEMU if installed or installable, else test)',
          })
          .option('headless', {
            type: 'boolean',
            default: false,
            describe: 'print how to reach the market (JSON) and wait for Ctrl-C instead of opening the dashboard',
          }),
      async (argv) => {
        const json = !!argv.json
        // A closed terminal makes writes fail (EIO): nothing may crash the stop that follows.
        for (const s of [process.stdout, process.stderr, process.stdin]) s.on('error', () => {})
        const { DemoRun, DEMO_BUYER } = await import('./demo.ts')
        const run = new DemoRun({ dir: argv.dir, fresh: argv.fresh, hv: argv.hv })
        let quitTui: (() => void) | null = null
        const stop = async (code = 0) => {
          quitTui?.()
          await run.stop()
          process.exit(code)
        }
        // Ctrl-C, a closed terminal (SIGHUP) or SIGTERM, during start-up or after: end everything.
        for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => void stop(0))
        try {
          const demo = await run.start()
          const hint =
            `market ${demo.market.slice(0, 12)}… on ${demo.bootstrap}; logged in as buyer "${DEMO_BUYER.user}". ` +
            `To act as a provider: press L (log out), then log in as acme, budget or premium (password ` +
            `provider-password).`
          if (argv.headless) {
            process.stdout.write(
              JSON.stringify({
                market: demo.market,
                bootstrap: demo.bootstrap,
                buyer: DEMO_BUYER.user,
                hv: demo.hv,
                notice: demo.notice,
              }) + '\n',
            )
            return
          }
          process.stderr.write(hint + '\n')
          const { runTui } = await loadDashboard()
          const me = await demo.buyer.call('whoami')
          await runTui({
            client: demo.buyer,
            identity: { username: me.username, type: me.type },
            market: demo.market,
            bootstrap: demo.bootstrap,
            saveSession: false,
            notice: demo.notice ?? undefined,
            onMounted: (quit) => (quitTui = quit),
          })
          await stop(0)
        } catch (err) {
          if (run.stopping) return // the stop in progress exits
          await run.stop().catch(() => {})
          fail(err, json)
        }
      },
    )
}
