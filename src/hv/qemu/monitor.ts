// The monitor API over a QMP session: the handful of things the driver asks QEMU, named for what they
// do (status, powerdown, pause, continue, save the machine state to a file, quit).
import { QmpClient, type QmpOptions } from './qmp.ts'
import { HvError, HV_QMP, HV_TIMEOUT } from '../errors.ts'

/** QEMU run states we care about; QEMU has more (e.g. 'inmigrate', 'postmigrate', 'shutdown'). */
export type RunState =
  'running' | 'paused' | 'inmigrate' | 'postmigrate' | 'prelaunch' | 'shutdown' | 'internal-error' | 'io-error' | string

export interface MigrationInfo {
  status?: 'none' | 'setup' | 'active' | 'completed' | 'failed' | 'cancelled' | string
  'error-desc'?: string
  ram?: { transferred: number; total: number }
  'total-time'?: number
}

/** Default for saving state: RAM moves at disk speed instead of QEMU's throttled 32 MiB/s default. */
export const SAVE_BANDWIDTH = 8 * 1024 * 1024 * 1024
const POLL_MS = 25

export class Monitor {
  readonly qmp: QmpClient

  private constructor(qmp: QmpClient) {
    this.qmp = qmp
  }

  static async connect(path: string, opts: QmpOptions = {}): Promise<Monitor> {
    return new Monitor(await QmpClient.connect(path, opts))
  }

  async status(): Promise<RunState> {
    const r = await this.qmp.execute<{ status: string; running: boolean }>('query-status')
    return r.status
  }

  /** ACPI power button; a guest with acpid powers off, and QEMU exits (SHUTDOWN event). */
  async powerdown(): Promise<void> {
    await this.qmp.execute('system_powerdown')
  }

  /** End QEMU now (no guest involvement): "answers yes to everything". */
  async quit(): Promise<void> {
    try {
      await this.qmp.execute('quit', undefined, { timeoutMs: 5000 })
    } catch (err) {
      // QEMU may close the socket before (or instead of) answering; that is a successful quit.
      if (!(err instanceof HvError && err.code === HV_QMP && this.qmp.closed)) throw err
    }
  }

  /** The current screen as a file (QEMU 7.1+ writes PNG itself; `file` is a path QEMU can write). */
  async screendump(file: string, format: 'png' | 'ppm' = 'png'): Promise<void> {
    await this.qmp.execute('screendump', { filename: file, format })
  }

  /** An HMP command (hostfwd_add has no QMP form in QEMU 7.2); returns what it printed. */
  async hmp(commandLine: string): Promise<string> {
    return this.qmp.execute<string>('human-monitor-command', { 'command-line': commandLine })
  }

  async pause(): Promise<void> {
    await this.qmp.execute('stop')
  }

  async cont(): Promise<void> {
    await this.qmp.execute('cont')
  }

  async migrationInfo(): Promise<MigrationInfo> {
    return this.qmp.execute<MigrationInfo>('query-migrate')
  }

  /**
   * Write the whole machine (RAM and device state) to `file` through QEMU's migration stream. The VM is
   * paused first, so a single pass captures a consistent state; resume with `-incoming exec:cat file`.
   */
  async saveState(file: string, opts: { timeoutMs: number }): Promise<MigrationInfo> {
    await this.qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'events', state: true }] })
    await this.qmp.execute('migrate-set-parameters', { 'max-bandwidth': SAVE_BANDWIDTH })
    await this.pause()
    await this.qmp.execute('migrate', { uri: `exec:cat > ${shellQuote(file)}` })
    return this.waitMigration(opts.timeoutMs)
  }

  /** Poll query-migrate until the migration finished; failure is HV_QMP, a stall HV_TIMEOUT. */
  async waitMigration(timeoutMs: number): Promise<MigrationInfo> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const info = await this.migrationInfo()
      if (info.status === 'completed') return info
      if (info.status === 'failed' || info.status === 'cancelled') {
        throw new HvError(
          HV_QMP,
          `Saving the machine state failed: ${info['error-desc'] ?? info.status}; the machine is still paused ` +
            `in QEMU, stop it or retry.`,
        )
      }
      if (Date.now() > deadline)
        throw new HvError(
          HV_TIMEOUT,
          `Saving the machine state did not finish within ${timeoutMs} ms (status ${info.status}).`,
        )
      await sleep(POLL_MS)
    }
  }

  /** Wait until QEMU has read an incoming state (status leaves 'inmigrate'). */
  async waitIncoming(timeoutMs: number): Promise<RunState> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const s = await this.status()
      if (s !== 'inmigrate') return s
      if (Date.now() > deadline)
        throw new HvError(HV_TIMEOUT, `QEMU did not finish loading the saved machine state within ${timeoutMs} ms.`)
      await sleep(POLL_MS)
    }
  }

  close(): void {
    this.qmp.close()
  }
}

export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}
