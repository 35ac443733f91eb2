// The console of a running machine as the provider keeps it (report §6.1.8, one viewer at a time):
// the guest's serial stream feeds a headless xterm all the time, so whoever attaches is shown the
// current screen at once. At most one viewer is attached; a new one takes over and the previous one
// is told why and hung up, like the report's "disconnect, then connect". When the machine stops,
// suspends or migrates, the viewer is told and the screen is dropped; a resumed machine gets a new
// screen. `ConsoleScreens` keeps one screen per running machine by following the Hypervisor.
import { EventEmitter } from 'node:events'
import type { Duplex } from 'node:stream'
import xterm from '@xterm/headless'
import type { Terminal } from '@xterm/headless'
import type { Hypervisor } from '../hv/hypervisor.ts'
import type { HvVm } from '../hv/types.ts'
import { renderScreen } from './render.ts'
import {
  ConsoleError,
  CONSOLE_CLOSED,
  CONSOLE_ENDED,
  CONSOLE_HUNG_UP,
  CONSOLE_SHUTDOWN,
  CONSOLE_TAKEN_OVER,
  CONSOLE_VM_GONE,
  CONSOLE_VM_MIGRATING,
  CONSOLE_VM_STOPPED,
  CONSOLE_VM_SUSPENDED,
} from './errors.ts'

export const DEFAULT_COLS = 80
export const DEFAULT_ROWS = 24
export const DEFAULT_SCROLLBACK = 1000
export const MAX_COLS = 500
export const MAX_ROWS = 200
export const DEFAULT_END_GRACE_MS = 1000

/** Why a viewer was hung up. Codes are stable (clients match them); the message is for a person. */
export interface CloseReason {
  code: string
  message: string
}

export const closeReasons = {
  takenOver: (): CloseReason => ({
    code: CONSOLE_TAKEN_OVER,
    message: 'another viewer attached to this console; only one viewer at a time',
  }),
  stopped: (id: string): CloseReason => ({
    code: CONSOLE_VM_STOPPED,
    message: `machine ${id} stopped; start it to view its console again`,
  }),
  suspended: (id: string): CloseReason => ({
    code: CONSOLE_VM_SUSPENDED,
    message: `machine ${id} was suspended; resume it to view its console again`,
  }),
  migrating: (id: string): CloseReason => ({
    code: CONSOLE_VM_MIGRATING,
    message: `machine ${id} is migrating to another provider; view it again once the migration ends`,
  }),
  deleted: (id: string): CloseReason => ({
    code: CONSOLE_VM_GONE,
    message: `machine ${id} is no longer on this provider`,
  }),
  ended: (id: string): CloseReason => ({
    code: CONSOLE_ENDED,
    message: `the console of machine ${id} ended (did the guest power off?)`,
  }),
  hungUp: (id: string): CloseReason => ({
    code: CONSOLE_HUNG_UP,
    message: `the market closed this console session of machine ${id}`,
  }),
  shutdown: (): CloseReason => ({
    code: CONSOLE_SHUTDOWN,
    message: 'the provider node is shutting down; try again when it is back',
  }),
}

/** Whoever watches: a console@1 channel or an SSH session. */
export interface ConsoleViewer {
  /**
   * Bytes for the viewer's terminal: first a repaint of the screen, then the guest's live output.
   * False (backpressure): the viewer's connection is full; nothing more is sent until the server
   * calls the attachment's `drained()` (the serial screen then repaints, VNC resumes its socket).
   */
  write(data: Buffer | string): boolean | void
  /** The session is over; say why and hang up. Called at most once. */
  close(reason: CloseReason): void
}

export interface Attachment {
  readonly attached: boolean
  /** Keystrokes for the guest. */
  input(data: Buffer | string): void
  resize(cols: number, rows: number): void
  detach(): void
  /** The viewer's connection has room again after a write returned false. */
  drained?(): void
}

export interface ScreenOptions {
  cols?: number
  rows?: number
  scrollback?: number
  endGraceMs?: number
}

interface Slot {
  v: ConsoleViewer
  /** Output held while the screen is being rendered for a (re)paint. */
  queue: Array<Buffer | string> | null
  /** The viewer's connection is full: output is skipped until it drains. */
  behind: boolean
  /** Output was skipped while full: the viewer is repainted when it drains. */
  missed: boolean
}

export class ConsoleScreen extends EventEmitter {
  readonly vmId: string
  private term: Terminal
  private viewer: Slot | null = null
  closed = false

  constructor(
    vmId: string,
    private stream: Duplex,
    opts: ScreenOptions = {},
  ) {
    super()
    this.vmId = vmId
    this.term = new xterm.Terminal({
      cols: clamp(opts.cols ?? DEFAULT_COLS, MAX_COLS),
      rows: clamp(opts.rows ?? DEFAULT_ROWS, MAX_ROWS),
      scrollback: opts.scrollback ?? DEFAULT_SCROLLBACK,
      allowProposedApi: true,
    })
    stream.on('data', (b: Buffer) => this.onOutput(b))
    stream.on('error', () => {}) // a dying VMM socket ends the stream; 'close' says the rest
    // The VMM's socket usually closes a moment before the Hypervisor reports the stop or suspend;
    // wait a little so the viewer hears the real reason rather than "the console ended".
    const ended = () => {
      setTimeout(() => this.close(closeReasons.ended(vmId)), opts.endGraceMs ?? DEFAULT_END_GRACE_MS).unref()
    }
    stream.once('close', ended)
    stream.once('end', ended)
  }

  get cols(): number {
    return this.term.cols
  }
  get rows(): number {
    return this.term.rows
  }
  get hasViewer(): boolean {
    return this.viewer !== null
  }

  /** The current screen as bytes that repaint a terminal of the same size. */
  snapshot(history?: number): Promise<string> {
    // write('') completes after everything written before it has been parsed.
    return new Promise((resolve) => this.term.write('', () => resolve(renderScreen(this.term, { history }))))
  }

  resize(cols: number, rows: number): void {
    if (this.closed) return
    cols = clamp(cols, MAX_COLS)
    rows = clamp(rows, MAX_ROWS)
    if (cols !== this.term.cols || rows !== this.term.rows) this.term.resize(cols, rows)
  }

  /** Attach a viewer (hanging up the current one), sized to its terminal; it gets the screen first. */
  attach(v: ConsoleViewer, size?: { cols?: number; rows?: number }): Attachment {
    if (this.closed) throw new ConsoleError(CONSOLE_CLOSED, `the console of machine ${this.vmId} is closed`)
    const prev = this.viewer
    this.viewer = null
    prev?.v.close(closeReasons.takenOver())
    if (size?.cols && size?.rows) this.resize(size.cols, size.rows)
    // Output that arrives while the screen is being rendered is queued and sent after it, in order.
    // A viewer whose connection is full (write false) misses output, bounded: it is repainted from
    // the screen once it drains, as at attach, instead of being sent every byte it fell behind by.
    const slot: Slot = { v, queue: [], behind: false, missed: false }
    this.viewer = slot
    const repaint = () => {
      slot.queue = []
      void this.snapshot().then((screen) => {
        if (this.viewer !== slot || !slot.queue) return
        const q = slot.queue
        slot.queue = null
        // All of it goes out (buffered if need be); a full connection holds back what follows.
        for (const b of [screen, ...q]) if (slot.v.write(b) === false) slot.behind = true
      })
    }
    repaint()
    const mine = () => this.viewer === slot
    return {
      get attached() {
        return mine()
      },
      input: (data) => {
        if (mine() && !this.closed) this.stream.write(data)
      },
      resize: (cols, rows) => {
        if (mine()) this.resize(cols, rows)
      },
      detach: () => {
        if (mine()) this.viewer = null
      },
      drained: () => {
        if (!mine() || !slot.behind) return
        slot.behind = false
        if (slot.missed) {
          slot.missed = false
          repaint()
        }
      },
    }
  }

  /** Hang up the viewer, if any, and keep the screen (the machine goes on running). */
  hangUp(reason: CloseReason): void {
    const v = this.viewer
    this.viewer = null
    v?.v.close(reason)
  }

  /** Hang up the viewer with `reason` and stop following the guest. */
  close(reason: CloseReason): void {
    if (this.closed) return
    this.closed = true
    const v = this.viewer
    this.viewer = null
    v?.v.close(reason)
    this.term.dispose()
    this.emit('close', reason)
  }

  /** Close and also let go of the serial stream (the machine left the running state). */
  destroy(reason: CloseReason): void {
    this.close(reason)
    this.stream.destroy()
  }

  private onOutput(b: Buffer): void {
    if (this.closed) return
    this.term.write(b)
    const slot = this.viewer
    if (!slot) return
    if (slot.behind) slot.missed = true
    else if (slot.queue) slot.queue.push(b)
    else if (slot.v.write(b) === false) slot.behind = true
  }
}

/** One screen per running machine of a Hypervisor, opened when it starts and closed when it stops. */
export class ConsoleScreens {
  private screens = new Map<string, ConsoleScreen>()
  private opening = new Map<string, Promise<ConsoleScreen>>()
  private migrating = new Set<string>()
  private closedAll = false
  private onChange = (vm: HvVm) => this.follow(vm)
  private onDelete = (id: string) => this.drop(id, closeReasons.deleted(id))

  constructor(
    private hv: Hypervisor,
    private opts: ScreenOptions = {},
  ) {
    hv.on('change', this.onChange)
    hv.on('delete', this.onDelete)
  }

  /** Pick up machines already running (an agent restart): their screen starts blank. */
  async start(): Promise<void> {
    for (const vm of await this.hv.list()) if (vm.state === 'running') await this.get(vm.id).catch(() => {})
  }

  /** The machine's screen; opens the serial console if the machine runs and has none yet. */
  get(id: string): Promise<ConsoleScreen> {
    const s = this.screens.get(id)
    if (s && !s.closed) return Promise.resolve(s)
    const pending = this.opening.get(id)
    if (pending) return pending
    const p = (async () => {
      const stream = await this.hv.console(id)
      if (this.closedAll) {
        stream.destroy()
        throw new ConsoleError(CONSOLE_CLOSED, 'console service closed')
      }
      const screen = new ConsoleScreen(id, stream, this.opts)
      this.screens.set(id, screen)
      screen.once('close', () => {
        if (this.screens.get(id) === screen) this.screens.delete(id)
      })
      return screen
    })()
    this.opening.set(id, p)
    void p.finally(() => this.opening.delete(id)).catch(() => {})
    return p
  }

  /** Tell the viewer a migration starts and hang up; the machine's stop/suspend then finds no screen. */
  migrate(id: string): void {
    this.migrating.add(id)
    this.drop(id, closeReasons.migrating(id))
  }

  /** Hang up the machine's viewer without touching its screen. */
  hangUp(id: string, reason: CloseReason): void {
    this.screens.get(id)?.hangUp(reason)
  }

  close(): void {
    this.closedAll = true
    this.hv.off('change', this.onChange)
    this.hv.off('delete', this.onDelete)
    for (const id of [...this.screens.keys()]) this.drop(id, closeReasons.shutdown())
  }

  private follow(vm: HvVm): void {
    if (this.closedAll) return
    if (vm.state === 'running') {
      this.migrating.delete(vm.id)
      // Open at once so the boot messages are on the screen when someone looks.
      void this.get(vm.id).catch(() => {})
      return
    }
    const reason = this.migrating.has(vm.id)
      ? closeReasons.migrating(vm.id)
      : vm.state === 'suspended'
        ? closeReasons.suspended(vm.id)
        : closeReasons.stopped(vm.id)
    this.drop(vm.id, reason)
  }

  private drop(id: string, reason: CloseReason): void {
    const s = this.screens.get(id)
    this.screens.delete(id)
    s?.destroy(reason)
  }
}

function clamp(n: number, max: number): number {
  return Math.max(1, Math.min(max, Math.floor(Number.isFinite(n) ? n : 1)))
}
