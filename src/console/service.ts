// Everything console on a provider node, in one object the node starts and the provider agent asks:
// the screens of its running machines, console@1 on the node's key, the SSH console server, the
// per-machine passwords, and the hub's console commands. The agent's command switch hands every
// 'console.*' method to `command()`.
//
// Commands the hub sends over control@1 (params -> result):
//   'console.passwd' {vmId, password} -> {}          set the machine's SSH console password
//   'console.close'  {vmId, reason?: 'migrating'} -> {}   hang up its viewer ('migrating': also until it runs again)
//   'console.info'   {} -> ConsoleInfo               where viewers reach this node
import { join } from 'node:path'
import { advertisedHost } from './advertise.ts'
import type DHT from 'hyperdht'
import type { KeyPair } from 'hyperdht'
import type { Hypervisor } from '../hv/hypervisor.ts'
import { ConsoleScreens, closeReasons, type ScreenOptions } from './screens.ts'
import { ConsoleServer, type ConsoleServerOptions } from './server.ts'
import { Displays } from './display.ts'
import { ConsolePasswords } from './passwords.ts'
import {
  DEFAULT_FAIL_DELAY_MS,
  DEFAULT_MAX_FAIL_DELAY_MS,
  FAIL_MEMORY_MS,
  SshConsoleServer,
  type SshCredential,
} from './ssh.ts'
import { afterFailure, failureTables, type FailureTables } from './ssh-guard.ts'
import { ConsoleError, CONSOLE_PASSWORD, CONSOLE_WRONG_PASSWORD } from './errors.ts'
import { nodeError } from '../net/errors.ts'
import type { TicketVerifier } from './ticket.ts'

export interface ConsoleServiceOptions {
  dht: DHT
  /** The provider node's key pair (the one it dials the hub with); viewers dial its public key. */
  keyPair: KeyPair
  /** The market key this provider pins. */
  marketKey: Buffer
  hv: Hypervisor
  /** The node's data dir: host key and console passwords live under it. */
  dataDir: string
  /** SSH console; false turns it off. Default: 127.0.0.1, any free port. */
  ssh?:
    | false
    | {
        host?: string
        /** The address published for viewers (default: advertise.ts finds one; never a wildcard). */
        advertise?: string
        port?: number
        failDelayMs?: number
        credentials?: SshCredential[]
      }
  screen?: ScreenOptions
  log?: (line: string) => void
  /** The node's ticket verifier, shared with its tunnels (default: one on DATA/console/used-tickets). */
  tickets?: TicketVerifier
  /** scrypt N for console passwords (default 2^17; tests pass a low one). */
  scryptN?: number
  /** Passed to the console@1 server: other protocols served on the node's key (migration). */
  onPeer?: ConsoleServerOptions['onPeer']
}

export interface ConsoleInfo {
  nodeKey: string
  sshHost: string | null
  sshPort: number | null
  sshFingerprint: string | null
}

/** Where a node keeps the nonces of the tickets it honoured (console@1 and tunnels alike). */
export const consoleNonceFile = (nodeData: string) => join(nodeData, 'console', 'used-tickets')

export const CONSOLE_COMMANDS = ['console.passwd', 'console.close', 'console.info'] as const

export class ConsoleService {
  readonly screens: ConsoleScreens
  readonly displays: Displays
  readonly passwords: ConsolePasswords
  /** Wrong console passwords per machine and per viewer, for the SSH console and the VNC screen alike. */
  readonly failures: FailureTables = failureTables(FAIL_MEMORY_MS)
  private server: ConsoleServer
  ssh: SshConsoleServer | null = null
  private sshHost: string | null = null
  private onDelete = (id: string) => void this.passwords.delete(id).catch(() => {})

  constructor(private opts: ConsoleServiceOptions) {
    this.screens = new ConsoleScreens(opts.hv, opts.screen)
    this.displays = new Displays(opts.hv)
    this.passwords = new ConsolePasswords(join(opts.dataDir, 'console-passwords'), { scryptN: opts.scryptN })
    this.server = new ConsoleServer({
      dht: opts.dht,
      keyPair: opts.keyPair,
      hubKey: opts.marketKey,
      screens: this.screens,
      displays: this.displays,
      checkPassword: (vmId, password, viewer) => this.checkScreenPassword(vmId, password, viewer),
      log: opts.log,
      onPeer: opts.onPeer,
      nonceFile: join(opts.dataDir, 'used-tickets'),
      tickets: opts.tickets,
    })
    // A machine that leaves this provider takes its password with it: a later one with the same
    // id (it migrating back) gets a new one from its owner.
    opts.hv.on('delete', this.onDelete)
  }

  async start(): Promise<ConsoleInfo> {
    await this.screens.start()
    await this.server.start()
    if (this.opts.ssh !== false) {
      const o = this.opts.ssh ?? {}
      this.ssh = new SshConsoleServer({
        screens: this.screens,
        passwords: this.passwords,
        dataDir: this.opts.dataDir,
        host: o.host,
        port: o.port,
        failDelayMs: o.failDelayMs,
        failures: this.failures,
        credentials: o.credentials,
        log: this.opts.log,
      })
      const at = await this.ssh.start()
      this.sshHost = advertisedHost(at.host, o.advertise)
      const shown = this.sshHost === at.host ? '' : `, published as ${this.sshHost}:${at.port}`
      this.opts.log?.(`ssh console on ${at.host}:${at.port}${shown} (host key ${at.fingerprint})`)
    }
    return this.info()
  }

  /**
   * The VNC screen's gate: the machine's console password, checked against the scrypt hash kept here
   * (the clear password is never stored). A wrong one waits as a wrong SSH login does and is counted
   * in the same tables, by machine and by the viewer's key.
   */
  async checkScreenPassword(vmId: string, password: unknown, viewer: string): Promise<void> {
    if (!(await this.passwords.has(vmId)))
      throw new ConsoleError(
        CONSOLE_PASSWORD,
        `machine ${vmId} has no console password, which its screen asks for: set one with ` +
          `\`virtuoso console passwd ${vmId}\``,
      )
    if (typeof password === 'string' && (await this.passwords.verify(vmId, password))) {
      this.failures.users.clear(vmId)
      return
    }
    const ssh = this.opts.ssh === false ? {} : (this.opts.ssh ?? {})
    await afterFailure(this.failures, vmId, `dht:${viewer}`, {
      baseMs: ssh.failDelayMs ?? DEFAULT_FAIL_DELAY_MS,
      maxMs: DEFAULT_MAX_FAIL_DELAY_MS,
    })
    throw new ConsoleError(CONSOLE_WRONG_PASSWORD, `wrong console password for machine ${vmId}`)
  }

  info(): ConsoleInfo {
    return {
      nodeKey: this.opts.keyPair.publicKey.toString('hex'),
      sshHost: this.sshHost,
      sshPort: this.ssh?.port ?? null,
      sshFingerprint: this.ssh?.fingerprint ?? null,
    }
  }

  /** What the node adds to its hello info: the market publishes where its SSH console listens. */
  helloInfo(): { sshHost?: string; sshPort?: number; sshFingerprint?: string; sshHostKey?: string } {
    if (!this.ssh || !this.sshHost) return {}
    return {
      sshHost: this.sshHost,
      sshPort: this.ssh.port,
      sshFingerprint: this.ssh.fingerprint ?? undefined,
      // The whole public key: `virtuoso ssh --console` writes it to known_hosts (no first-use prompt).
      sshHostKey: this.ssh.hostKey?.publicKey,
    }
  }

  /** A hub command whose name starts with 'console.'. */
  async command(method: string, params: unknown): Promise<unknown> {
    const p = (params ?? {}) as Record<string, unknown>
    switch (method) {
      case 'console.passwd': {
        const vmId = p.vmId
        if (typeof vmId !== 'string') throw nodeError.badFrame('console.passwd needs a vmId')
        await this.opts.hv.get(vmId) // HV_NOT_FOUND for a machine that is not here
        await this.passwords.set(vmId, p.password as string)
        return {}
      }
      case 'console.close': {
        if (typeof p.vmId !== 'string') throw nodeError.badFrame('console.close needs a vmId')
        if (p.reason === 'migrating') this.screens.migrate(p.vmId)
        else this.screens.hangUp(p.vmId, closeReasons.hungUp(p.vmId))
        return {}
      }
      case 'console.info':
        return this.info()
      default:
        throw nodeError.unknownMethod(method)
    }
  }

  async close(): Promise<void> {
    this.opts.hv.off('delete', this.onDelete)
    this.screens.close()
    this.displays.close()
    await this.server.close()
    await this.ssh?.close()
  }
}
