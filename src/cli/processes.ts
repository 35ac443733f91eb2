// Long-running processes: `virtuoso dht` and `virtuoso node`. Both print what others need to reach
// them, then serve until SIGTERM/SIGINT, and shut down cleanly (that is what systemd sends).
import type { Argv } from 'yargs'
import { runBootstrap, parseBootstrap, formatBootstrap, parsePublicAddress } from '../net/dht.ts'
import type { NodeOptions } from './node.ts'
import { parseKey } from '../net/identity.ts'
import { fail } from './output.ts'
import { defaultDataDir } from './data-dir.ts'
import { isWildcard } from '../console/advertise.ts'
import { usage } from './errors.ts'

/** A node gives up on a clean shutdown after this long (a hub whose DHT is gone can hang in close). */
export const SHUTDOWN_LIMIT_MS = 4000

function untilSignal(close: () => Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false
    const stop = async (why: string) => {
      if (stopping) return
      stopping = true
      process.stderr.write(`${why}: shutting down\n`)
      const force = setTimeout(() => {
        process.stderr.write(`shutdown took over ${SHUTDOWN_LIMIT_MS} ms: exiting anyway\n`)
        process.exit(1)
      }, SHUTDOWN_LIMIT_MS)
      force.unref()
      await close()
      resolve()
      process.exit(0)
    }
    // SIGHUP: the terminal that started it closed. A second signal changes nothing (Ctrl-C reaches both
    // this node and bin/service.js's parent, which passes it on); the shutdown has its own limit.
    for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => void stop(sig))
    // Started again by bin/service.js with its flags: that parent gone (even killed) means stop.
    if (process.env.VIRTUOSO_SERVICE_CHILD === '1' && process.channel) {
      delete process.env.VIRTUOSO_SERVICE_CHILD // not for the processes this node starts
      process.on('disconnect', () => void stop('the virtuoso process that started this node is gone'))
      process.channel.unref()
    }
    // Started by the demo with a pipe on stdin: the pipe closing means the demo is gone (even killed with
    // SIGKILL), so this node must go too.
    if (process.env.VIRTUOSO_EXIT_WITH_STDIN === '1') {
      process.stdin.on('end', () => void stop('stdin closed'))
      process.stdin.on('error', () => void stop('stdin closed'))
      process.stdin.resume()
    }
  })
}

export function processCommands(y: Argv): Argv {
  return nodeCommand()(dhtCommand(y))
}

function dhtCommand(y: Argv): Argv {
  return y.command(
    'dht',
    'run a DHT bootstrap node for a private network',
    (a) =>
      a
        .option('host', { type: 'string', default: '127.0.0.1', describe: 'address to bind' })
        .option('port', { type: 'number', default: 49737, describe: 'UDP port to bind' }),
    async (argv) => {
      try {
        const net = await runBootstrap({ host: argv.host, port: argv.port })
        const line = `${net.address.host}:${net.address.port}`
        if (argv.json) process.stdout.write(JSON.stringify({ bootstrap: line }) + '\n')
        else process.stdout.write(`DHT bootstrap listening on ${line}\n`)
        await untilSignal(() => net.destroy())
      } catch (err) {
        fail(err, !!argv.json)
      }
    },
  )
}

/** `virtuoso node`; `extra` reaches startNode as is (test/e2e/fault-node.ts injects migration faults). */
export function nodeCommand(extra: Pick<NodeOptions, 'migrationFaults'> = {}): (y: Argv) => Argv {
  return (y) =>
    y.command(
      'node',
      'run a node: the hub (--hub), a provider agent (--market KEY), or both',
      (a) =>
        a
          .option('data', {
            type: 'string',
            default: defaultDataDir(),
            defaultDescription: '$XDG_DATA_HOME/virtuoso or ~/.local/share/virtuoso',
            describe: 'data directory (keys, tables, machines)',
          })
          .option('hub', { type: 'boolean', default: false, describe: 'be the hub of a market' })
          .option('provide', {
            type: 'boolean',
            default: false,
            describe: 'with --hub: also provide machines to this market',
          })
          .option('hv', { choices: ['qemu', 'test'] as const, default: 'qemu' as const, describe: 'hypervisor driver' })
          .option('accel', {
            choices: ['auto', 'kvm', 'tcg'] as const,
            default: 'auto' as const,
            describe: 'QEMU acceleration',
          })
          .option('billing-interval', { type: 'number', describe: 'ms between billing passes' })
          .option('price-interval', { type: 'number', describe: 'ms between market-price passes' })
          .option('image-cache', {
            type: 'number',
            describe: 'provider: MB of catalog images to keep cached (least recently used go first; default: no cap)',
          })
          .option('heartbeat-window', {
            type: 'number',
            describe: 'hub: ms without a migration HEARTBEAT before reverting (default 5000)',
          })
          .option('scrypt-cost', {
            type: 'number',
            describe: 'scrypt N for new password hashes (default 131072 = 2^17; lower only for tests and the demo)',
          })
          .option('ssh-bind', {
            type: 'string',
            default: '127.0.0.1',
            describe: 'provider: address the SSH console listens on (0.0.0.0 = every interface)',
          })
          .option('ssh-host', {
            type: 'string',
            describe:
              'provider: address published for the SSH console (default: the bind address, or for 0.0.0.0 ' +
              "this machine's first non-loopback IPv4 address)",
          })
          .option('public-address', {
            type: 'string',
            describe: 'HOST:PORT (UDP) where peers reach this node directly: binds PORT, not firewalled',
          })
          .option('firewalled', {
            type: 'boolean',
            describe: 'peers must holepunch to this node (behind a NAT); default: not on loopback or --public-address',
          })
          .option('guest-outbound', {
            choices: ['none', 'nat'] as const,
            default: 'none' as const,
            describe: "provider: what guests may reach beyond their networks ('nat': out through this machine)",
          })
          .option('ssh-port', {
            type: 'number',
            default: 0,
            describe: 'provider: SSH console port (0 = any free port; -1 = no SSH console)',
          }),
      async (argv) => {
        const json = !!argv.json
        try {
          const bootstrap = parseBootstrap((argv.bootstrap as string | undefined) ?? process.env.VIRTUOSO_BOOTSTRAP)
          const marketText = (argv.market as string | undefined) ?? (argv.hub ? undefined : process.env.VIRTUOSO_MARKET)
          if (!argv.hub && !marketText)
            throw usage('say what this node is: --hub, or --market KEY to provide to a market')
          const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`)
          // Loaded here: a client command never pays for the hub, QEMU, SSH and terminal modules.
          const { startNode } = await import('./node.ts')
          const node = await startNode({
            data: argv.data,
            bootstrap,
            hub: argv.hub,
            provide: argv.provide,
            market: marketText ? parseKey(marketText) : undefined,
            hv: argv.hv,
            accel: argv.accel,
            guestOutbound: argv['guest-outbound'],
            billingIntervalMs: argv['billing-interval'],
            priceIntervalMs: argv['price-interval'],
            heartbeatWindowMs: argv['heartbeat-window'],
            scryptN: argv['scrypt-cost'],
            ...(argv['image-cache'] !== undefined ? { images: { cacheBytes: argv['image-cache'] * 1048576 } } : {}),
            reach: { publicAddress: parsePublicAddress(argv['public-address']), firewalled: argv.firewalled },
            log,
            ssh:
              argv['ssh-port'] === -1
                ? false
                : {
                    // Before --ssh-bind, --ssh-host was the bind address: a wildcard there still binds it.
                    host: isWildcard(argv['ssh-host'] ?? '127.0.0.1') ? argv['ssh-host'] : argv['ssh-bind'],
                    advertise: argv['ssh-host'],
                    port: argv['ssh-port'],
                  },
            ...extra,
          })
          const served = untilSignal(() => node.close())
          if (node.hub && !json) process.stdout.write(`market key: ${node.key}\n`)
          if (node.provider) {
            // The pairing code is printed once the hub knows this node: a `pm add` with it then works at once.
            process.stdout.write(json ? '' : `node key: ${node.provider.nodeKey}\n`)
            const waiting = setTimeout(
              () => log('waiting for the hub to answer before printing the pairing code'),
              3000,
            )
            await node.provider.connected
            clearTimeout(waiting)
          }
          const info = {
            market: node.hub ? node.key : marketText,
            nodeKey: node.provider?.nodeKey ?? null,
            pairingCode: node.pairingCode,
            bootstrap: formatBootstrap(bootstrap),
          }
          if (json) process.stdout.write(JSON.stringify(info) + '\n')
          else {
            if (node.provider) process.stdout.write(`pairing code: ${node.pairingCode}\n`)
          }
          await served
        } catch (err) {
          fail(err, json)
        }
      },
    )
}
