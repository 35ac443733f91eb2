// An in-memory stand-in for a console@1 session (view tests only): what the view writes is kept,
// what the "guest" prints is pushed with `print`, and the provider's hang-up with `end`.
import { EventEmitter } from 'node:events'
import type { ConsoleLink, OpenConsole } from '../../src/tui/console-link.ts'

export class FakeLink extends EventEmitter implements ConsoleLink {
  written: string[] = []
  resizes: Array<[number, number]> = []
  detached = false
  closed = false
  constructor(
    readonly vmId: string,
    readonly size: { cols: number; rows: number },
    readonly mode: 'serial' | 'frames' = 'serial',
  ) {
    super()
  }
  write(data: Buffer | string): void {
    this.written.push(data.toString())
  }
  resize(cols: number, rows: number): void {
    this.resizes.push([cols, rows])
  }
  async detach(): Promise<void> {
    this.detached = true
    this.end({ code: 'NODE_CONSOLE_DETACHED', message: 'detached from the console' })
  }
  print(s: string): void {
    this.emit('data', Buffer.from(s))
  }
  end(e: { code: string; message: string }): void {
    if (this.closed) return
    this.closed = true
    this.emit('end', e)
  }
  typed(): string {
    return this.written.join('')
  }
}

/** An opener that hands out FakeLinks (or fails with `failWith`), keeping each for the test. */
export function fakeOpener(opts: { failWith?: { code: string; message: string }; repaint?: string } = {}) {
  const links: FakeLink[] = []
  const state = { failWith: opts.failWith }
  const open: OpenConsole = async (vmId, size, mode) => {
    if (state.failWith) throw Object.assign(new Error(state.failWith.message), { code: state.failWith.code })
    const l = new FakeLink(vmId, size, mode)
    links.push(l)
    if (opts.repaint && mode !== 'frames') setTimeout(() => l.print(opts.repaint!), 5)
    return l
  }
  return { open, links, state, last: () => links[links.length - 1] }
}
