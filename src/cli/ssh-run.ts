// `virtuoso ssh`: the system's OpenSSH client, its ProxyCommand `virtuoso pipe VMID PORT`, and a
// known_hosts file holding the key the market knows (the guest's host key, made at register and put
// in by the first-boot seed; or with --console the provider's console key), so there is no
// first-use prompt and a different key is refused. Returns ssh's exit code.
import { spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { profileDir } from '../client/profile.ts'
import type { TunnelTicketAnswer } from '../vnet/tunnel-hub.ts'
import type { TicketAnswer } from '../console/hub.ts'
import { virtuosoBin } from '../root.ts'
import { withHub } from './console-commands.ts'
import { CliError, CLI_NO_SSH_CONSOLE, CLI_SSH_MISSING, usage } from './errors.ts'

type Args = Record<string, any>

export function parsePort(text: unknown, what: string, allowZero = false): number {
  const n = Number(text)
  if (typeof text === 'number' || /^\d+$/.test(String(text)))
    if (Number.isInteger(n) && n >= (allowZero ? 0 : 1) && n <= 65535) return n
  throw usage(`${what} must be a TCP port from ${allowZero ? 0 : 1} to 65535, not '${String(text)}'`)
}

/** A word for sh -c (ssh runs ProxyCommand through the shell); ssh expands %, so it is doubled. */
const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`.replace(/%/g, '%%')

export async function runSsh(a: Args): Promise<number> {
  const vmId = String(a.vmid)
  const port = a.console ? 'console' : String(parsePort(a.port, '--port'))
  // Asked first so a stranger, a stopped machine or a wrong id fail here with one line, not in ssh.
  const { keys, user } = await withHub(a, async (client) => {
    if (!a.console)
      return { keys: (await client.call<TunnelTicketAnswer>('tunnel.ticket', { vmId })).hostKeys, user: String(a.user) }
    const t = await client.call<TicketAnswer>('console.ticket', { vmId })
    if (!t.ssh) throw new CliError(CLI_NO_SSH_CONSOLE, 'this provider runs no SSH console; use `virtuoso console VMID`')
    return { keys: t.ssh.hostKey ? [t.ssh.hostKey] : [], user: t.ssh.user }
  })
  const alias = a.console ? `virtuoso-console-${vmId}` : `virtuoso-${vmId}`
  const tmp = await mkdtemp(join(tmpdir(), 'virtuoso-ssh-'))
  try {
    let hostOpts: string[]
    if (keys.length) {
      const file = join(tmp, 'known_hosts')
      await writeFile(file, keys.map((k) => `${alias} ${k}\n`).join(''), { mode: 0o600 })
      const algos = [...new Set(keys.map((k) => k.split(' ')[0]))].join(',')
      hostOpts = [
        '-o',
        `UserKnownHostsFile=${file}`,
        '-o',
        'StrictHostKeyChecking=yes',
        '-o',
        `HostKeyAlgorithms=${algos}`,
      ]
    } else {
      // A machine registered before the market made host keys: remember its key from the first login.
      await mkdir(profileDir(), { recursive: true, mode: 0o700 })
      const file = join(profileDir(), 'known_hosts')
      hostOpts = ['-o', `UserKnownHostsFile=${file}`, '-o', 'StrictHostKeyChecking=accept-new']
    }
    const flags = [
      ...(a.market ? ['--market', String(a.market)] : []),
      ...(a.bootstrap ? ['--bootstrap', String(a.bootstrap)] : []),
    ]
    const proxy = [process.execPath, virtuosoBin(), 'pipe', vmId, port, ...flags].map(shq).join(' ')
    const args = [
      '-o',
      `ProxyCommand=${proxy}`,
      '-o',
      `HostKeyAlias=${alias}`,
      '-o',
      'GlobalKnownHostsFile=/dev/null',
      ...hostOpts,
      '-l',
      user,
      ...(a.identity ? ['-i', String(a.identity)] : []),
      ...((a['ssh-option'] as string[] | undefined) ?? []).flatMap((o) => ['-o', o]),
      alias,
      // yargs puts the words after `--` in argv._ (after the command's own name).
      ...[...((a.command as string[] | undefined) ?? []), ...((a._ as unknown[] | undefined) ?? []).slice(1)].map(
        String,
      ),
    ]
    return await new Promise<number>((resolve, reject) => {
      const child = spawn('ssh', args, { stdio: 'inherit' })
      child.once('error', (err) =>
        reject(
          new CliError(
            CLI_SSH_MISSING,
            `cannot run ssh (${err.message}); install OpenSSH's client (Debian: openssh-client)`,
          ),
        ),
      )
      child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)))
    })
  } finally {
    await rm(tmp, { recursive: true, force: true })
  }
}
