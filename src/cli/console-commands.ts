// `virtuoso console VMID`: the machine's console in this terminal (like `virsh console`): raw mode,
// Ctrl-] detaches, the guest's screen follows the window size. The hub hands out a one-minute
// ticket; the bytes then flow between this terminal and the provider node directly (console@1).
// `virtuoso console passwd VMID` sets the password for `ssh -p PORT VMID@HOST` instead.
import type { Argv } from 'yargs'
import type { Readable, Writable } from 'node:stream'
import { resolveTarget } from '../client/connect.ts'
import type { GlobalArgs } from './options.ts'
import { fail, print } from './output.ts'
import { readPassword } from './password.ts'
import { MarketClient } from '../client/market-client.ts'
import { createDhtNode, parseBootstrap } from '../net/dht.ts'
import { parseKey } from '../net/identity.ts'
import { ConsoleSession, type ConsoleEnd } from '../console/client.ts'
import type { TicketAnswer } from '../console/hub.ts'
import { CliError, CLI_NO_SSH_CONSOLE, usage } from './errors.ts'
import { CONSOLE_CONNECTION_CLOSED } from '../console/errors.ts'
import { clientError } from '../client/errors.ts'

type Args = GlobalArgs & Record<string, any>

/** Ctrl-], as in telnet and virsh: rare in real input, and reachable on every keyboard. */
export const ESCAPE_BYTE = 0x1d
/** Undo the keyboard modes a guest's repaint may have switched on, so the shell gets its keys back. */
const RESET_MODES = '\x1b[0m\x1b[?1l\x1b>\x1b[?2004l'

export function consoleCommands(y: Argv): Argv {
  return y.command(
    'console <vmid> [machine]',
    "attach to a running machine's console (Ctrl-] detaches); `console passwd VMID` sets its SSH console password",
    (a) =>
      a
        .positional('vmid', { type: 'string', describe: 'machine id, or "passwd"' })
        .positional('machine', { type: 'string', describe: 'with passwd: the machine id' })
        .option('ssh', {
          type: 'boolean',
          default: false,
          describe: 'print how to reach the console with ssh instead of attaching',
        })
        .option('password-stdin', {
          type: 'boolean',
          default: false,
          describe: 'passwd: read the password from the first line of stdin',
        }),
    async (argv) => {
      const a = argv as unknown as Args
      try {
        if (a.vmid === 'passwd') {
          if (!a.machine) throw usage('which machine? `virtuoso console passwd VMID`')
          await passwd(a, a.machine)
        } else {
          if (a.machine)
            throw usage(`unexpected "${a.machine}": \`virtuoso console VMID\` or \`virtuoso console passwd VMID\``)
          process.exitCode = await attach(a, a.vmid)
        }
      } catch (err) {
        fail(err, !!a.json)
      }
    },
  )
}

async function passwd(a: Args, vmId: string): Promise<void> {
  const password = await readPassword({
    stdin: !!a['password-stdin'],
    prompt: `Console password for ${vmId}: `,
    confirm: !a['password-stdin'],
  })
  if (password.length < 8) throw usage('a console password needs at least 8 characters; nothing was changed')
  const { market, bootstrap, profile } = await resolveTarget(a)
  const token = loggedIn(market, profile)
  const client = await MarketClient.connect({
    marketKey: parseKey(market),
    bootstrap: parseBootstrap(bootstrap),
    token,
  })
  try {
    await client.call('console.passwd', { vmId, password })
    const t = await client.call<TicketAnswer>('console.ticket', { vmId }).catch(() => null) // only to show the ssh line
    print(
      !!a.json,
      { ok: true },
      () => `console password set for ${vmId}${t?.ssh ? `; connect with: ${sshLine(t)}` : ''}`,
    )
  } finally {
    await client.close()
  }
}

export function loggedIn(market: string, profile: { market?: string; token?: string } | null): string {
  const token = profile?.market === market ? profile.token : undefined
  if (!token) throw clientError.notLoggedIn()
  return token
}

function sshLine(t: TicketAnswer): string {
  if (!t.ssh) return ''
  return (
    `ssh -p ${t.ssh.port} ` +
    `${t.ssh.user}@${t.ssh.host ?? 'PROVIDER-HOST'}${t.ssh.fingerprint ? `  (host key ${t.ssh.fingerprint})` : ''}`
  )
}

/**
 * Runs `fn` with a market client logged in as the profile says, on one DHT node that `fn` may use
 * to dial a provider too (a second node would pay for bootstrapping again). `fn` may close the
 * client early; the node lives until `fn` ends.
 */
export async function withHub<T>(
  a: Args,
  fn: (client: MarketClient, dht: ReturnType<typeof createDhtNode>) => Promise<T>,
): Promise<T> {
  const { market, bootstrap, profile } = await resolveTarget(a)
  const token = loggedIn(market, profile)
  const dht = createDhtNode(parseBootstrap(bootstrap))
  try {
    const client = await MarketClient.connect({
      marketKey: parseKey(market),
      bootstrap: parseBootstrap(bootstrap),
      token,
      dht,
    })
    try {
      return await fn(client, dht)
    } finally {
      await client.close()
    }
  } finally {
    await dht.destroy()
  }
}

/** Returns the exit code: 0 when the user detached or the session ended normally. */
export async function attach(a: Args, vmId: string): Promise<number> {
  return withHub(a, async (client, dht) => {
    let t: TicketAnswer
    try {
      t = await client.call<TicketAnswer>('console.ticket', { vmId })
    } finally {
      await client.close()
    }
    if (a.ssh) {
      if (!t.ssh)
        throw new CliError(CLI_NO_SSH_CONSOLE, 'this provider runs no SSH console; use `virtuoso console VMID`')
      print(!!a.json, t.ssh, () => `${sshLine(t)}\nset the password first with \`virtuoso console passwd ${vmId}\``)
      return 0
    }
    const out = process.stdout
    const session = await ConsoleSession.dial({
      dht,
      nodeKey: Buffer.from(t.nodeKey, 'hex'),
      ticket: t.ticket,
      cols: out.columns || 80,
      rows: out.rows || 24,
    })
    process.stderr.write(`Connected to ${vmId}. Escape character is ^]\r\n`)
    const end = await runTerminal(session, {
      stdin: process.stdin,
      stdout: out,
      onResize: (fn) => {
        out.on('resize', fn)
        return () => out.off('resize', fn)
      },
    })
    process.stderr.write(`\r\n${end.message}\r\n`)
    // A piped stdin that is still open would keep this process alive after the session.
    if (!process.stdin.isTTY) process.stdin.destroy()
    return end.code === CONSOLE_CONNECTION_CLOSED ? 1 : 0
  })
}

export interface TerminalIo {
  stdin: Readable & { isTTY?: boolean; setRawMode?: (on: boolean) => unknown }
  stdout: Writable & { columns?: number; rows?: number }
  /** Subscribe to window size changes; returns the unsubscribe. */
  onResize?: (fn: () => void) => () => void
}

/** Relay a console session to a terminal until Ctrl-] or the session ends; the terminal is always restored. */
export function runTerminal(session: ConsoleSession, io: TerminalIo): Promise<ConsoleEnd> {
  return new Promise((resolve) => {
    const raw = !!io.stdin.isTTY && typeof io.stdin.setRawMode === 'function'
    if (raw) io.stdin.setRawMode!(true)
    let done = false
    const onData = (b: Buffer) => {
      const i = b.indexOf(ESCAPE_BYTE)
      if (i < 0) return session.write(b)
      if (i > 0) session.write(b.subarray(0, i))
      void session.detach()
    }
    const onOutput = (b: Buffer) => {
      io.stdout.write(b)
    }
    const offResize = io.onResize?.(() => {
      if (io.stdout.columns && io.stdout.rows) session.resize(io.stdout.columns, io.stdout.rows)
    })
    // A signal must not leave the user's terminal in raw mode.
    const onSignal = () => {
      void session.detach()
    }
    const finish = (end: ConsoleEnd) => {
      if (done) return
      done = true
      io.stdin.off('data', onData)
      session.off('data', onOutput)
      offResize?.()
      process.off('SIGTERM', onSignal)
      process.off('SIGHUP', onSignal)
      if (raw) io.stdin.setRawMode!(false)
      io.stdin.pause()
      io.stdout.write(RESET_MODES)
      resolve(end)
    }
    session.on('data', onOutput)
    session.once('end', finish)
    process.on('SIGTERM', onSignal)
    process.on('SIGHUP', onSignal)
    io.stdin.on('data', onData)
    io.stdin.resume()
    // Input ending (a pipe) is the same as a detach: the machine keeps running.
    io.stdin.once('end', () => {
      void session.detach()
    })
  })
}
