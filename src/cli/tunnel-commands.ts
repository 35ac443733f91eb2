// Into a machine from the buyer's own computer, whatever NAT the provider sits behind: every byte goes
// over HyperDHT to the provider (tunnel@1), which reaches the guest's port on its own loopback.
//   `virtuoso pipe VMID PORT|console`       stdin/stdout to the port (ssh's ProxyCommand)
//   `virtuoso forward VMID LOCAL:REMOTE`    127.0.0.1:LOCAL to the guest's REMOTE, until Ctrl-C
//   `virtuoso ssh VMID [-- command]`        OpenSSH through `pipe`, the guest's host key pinned
// The hub gives the owner of a running machine a ticket bound to the key this process dials with.
import type { Argv } from 'yargs'
import { createServer, type Socket } from 'node:net'
import type DHT from 'hyperdht'
import { resolveTarget } from '../client/connect.ts'
import { MarketClient } from '../client/market-client.ts'
import { createDhtNode, parseBootstrap } from '../net/dht.ts'
import { parseKey } from '../net/identity.ts'
import { VirtuosoError } from '../errors.ts'
import { TunnelClient } from '../vnet/tunnel-client.ts'
import type { TunnelTicketAnswer } from '../vnet/tunnel-hub.ts'
import { CONSOLE_PORT } from '../vnet/tunnel-wire.ts'
import type { GlobalArgs } from './options.ts'
import { loggedIn } from './console-commands.ts'
import { fail, print } from './output.ts'
import { parsePort, runSsh } from './ssh-run.ts'
import { usage } from './errors.ts'

type Args = GlobalArgs & Record<string, any>

/** 'console' or a port number: what `pipe` connects to. */
export function pipeTarget(text: unknown): number {
  return text === 'console' ? CONSOLE_PORT : parsePort(text, 'PORT')
}

/** A logged-in hub connection on a DHT node that then dials the provider with the same key. */
export async function tunnelTo(
  a: Args,
  vmId: string,
): Promise<{ dht: DHT; answer: TunnelTicketAnswer; tunnel: TunnelClient }> {
  const { market, bootstrap, profile } = await resolveTarget(a)
  const token = loggedIn(market, profile)
  const dht = createDhtNode(parseBootstrap(bootstrap))
  try {
    const answer = await ticket(dht, market, bootstrap, token, vmId)
    const tunnel = await TunnelClient.connect({ dht, ticket: answer })
    return { dht, answer, tunnel }
  } catch (err) {
    await dht.destroy()
    throw err
  }
}

async function ticket(dht: DHT, market: string, bootstrap: string, token: string, vmId: string) {
  const client = await MarketClient.connect({
    marketKey: parseKey(market),
    bootstrap: parseBootstrap(bootstrap),
    token,
    dht,
  })
  try {
    return await client.call<TunnelTicketAnswer>('tunnel.ticket', { vmId })
  } finally {
    await client.close()
  }
}

export function tunnelCommands(y: Argv): Argv {
  return y
    .command(
      'pipe <vmid> <port>',
      "connect stdin/stdout to a port of a running machine ('console': the provider's SSH console)",
      (a) => a.positional('vmid', { type: 'string' }).positional('port', { type: 'string' }),
      async (argv) => {
        const a = argv as unknown as Args
        // stdout carries the stream: errors go to stderr only, --json or not.
        try {
          const port = pipeTarget(a.port)
          const { dht, tunnel } = await tunnelTo(a, a.vmid)
          try {
            const { done } = await tunnel.open(port, process.stdin, process.stdout)
            const end = await done
            if (end) throw new VirtuosoError(end.code, end.message)
          } finally {
            await tunnel.close()
            await dht.destroy()
          }
          process.exit(0)
        } catch (err) {
          fail(err, false)
        }
      },
    )
    .command(
      'forward <vmid> <ports>',
      'listen on 127.0.0.1:LOCAL and carry each connection to port REMOTE of a running machine (Ctrl-C ends)',
      (a) =>
        a
          .positional('vmid', { type: 'string' })
          .positional('ports', { type: 'string', describe: 'LOCAL:REMOTE, e.g. 8080:80 (LOCAL 0: any free port)' }),
      async (argv) => {
        const a = argv as unknown as Args
        try {
          const m = /^(\d+):(\d+)$/.exec(String(a.ports))
          if (!m) throw usage(`give the ports as LOCAL:REMOTE (e.g. 8080:80), not '${String(a.ports)}'`)
          const local = parsePort(m[1], 'LOCAL', true)
          const remote = parsePort(m[2], 'REMOTE')
          await forward(a, a.vmid, local, remote)
        } catch (err) {
          fail(err, !!a.json)
        }
      },
    )
    .command(
      'ssh <vmid> [command..]',
      "OpenSSH into a running machine through the market (the guest's host key pinned); -- COMMAND runs one",
      (a) =>
        a
          .positional('vmid', { type: 'string' })
          .positional('command', { type: 'string', array: true })
          .option('user', { alias: 'l', type: 'string', default: 'root', describe: 'guest user' })
          .option('identity', { alias: 'i', type: 'string', describe: 'private key file for ssh' })
          .option('port', { alias: 'p', type: 'number', default: 22, describe: "the guest's SSH port" })
          .option('ssh-option', { alias: 'o', type: 'string', array: true, describe: 'passed to ssh as -o' })
          .option('console', {
            type: 'boolean',
            default: false,
            describe: "the provider's SSH console (console password) instead of the guest's sshd",
          }),
      async (argv) => {
        const a = argv as unknown as Args
        try {
          process.exit(await runSsh(a))
        } catch (err) {
          fail(err, !!a.json)
        }
      },
    )
}

/** Serves until SIGINT/SIGTERM. One tunnel for all connections, made again (new ticket) if it drops. */
async function forward(a: Args, vmId: string, local: number, remote: number): Promise<void> {
  let current = await tunnelTo(a, vmId) // fails here for a stranger or a stopped machine
  let reconnecting: Promise<typeof current> | null = null
  const tunnel = async () => {
    if (!current.tunnel.closed) return current
    reconnecting ??= (async () => {
      await current.dht.destroy()
      current = await tunnelTo(a, vmId)
      return current
    })().finally(() => (reconnecting = null))
    return reconnecting
  }
  const sockets = new Set<Socket>()
  const server = createServer({ allowHalfOpen: true }, (sock) => {
    sockets.add(sock)
    sock.once('close', () => sockets.delete(sock))
    sock.on('error', () => {})
    sock.pause()
    void tunnel()
      .then((t) => t.tunnel.open(remote, sock, sock))
      .catch((err) => {
        process.stderr.write(`virtuoso: forward: ${(err as Error).message}\n`)
        sock.destroy()
      })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(usage(`cannot listen on 127.0.0.1:${local}: ${(err as Error).message}`, err)))
    server.listen(local, '127.0.0.1', () => resolve())
  })
  const port = (server.address() as { port: number }).port
  print(
    !!a.json,
    { vmId, host: '127.0.0.1', port, remote },
    () => `forwarding 127.0.0.1:${port} to port ${remote} of ${vmId}; Ctrl-C ends`,
  )
  await new Promise<void>((done) => {
    process.once('SIGINT', done)
    process.once('SIGTERM', done)
  })
  server.close()
  for (const s of sockets) s.destroy()
  await current.tunnel.close()
  await current.dht.destroy()
  process.exit(0)
}
