// The screens (QEMU VGA) of a provider's running machines, as console@1 serves them beside the
// serial console: a VNC relay (one viewer per machine; a new one takes over, as report §6.1.8's
// "disconnect, then connect"), one PNG screenshot, or a stream of small frames for a terminal.
import { randomBytes } from 'node:crypto'
import { readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Duplex } from 'node:stream'
import type { Hypervisor } from '../hv/hypervisor.ts'
import type { HvVm } from '../hv/types.ts'
import { closeReasons, type Attachment, type CloseReason, type ConsoleViewer } from './screens.ts'
import { encodeFrame, parsePpm, scaleFrame } from './frame.ts'
import { CONSOLE_SCREEN } from './errors.ts'

/** Frames per second the terminal picture is refreshed at. */
export const DEFAULT_FRAME_MS = 300

export class Displays {
  private vncs = new Map<string, { v: ConsoleViewer; stream: Duplex }>()
  private onChange = (vm: HvVm) => {
    if (vm.state === 'running') return
    this.drop(vm.id, vm.state === 'suspended' ? closeReasons.suspended(vm.id) : closeReasons.stopped(vm.id))
  }
  private onDelete = (id: string) => this.drop(id, closeReasons.deleted(id))

  constructor(private hv: Hypervisor) {
    hv.on('change', this.onChange)
    hv.on('delete', this.onDelete)
  }

  /** Relay the viewer to the machine's VNC server; the previous viewer is told and hung up. */
  async vnc(vmId: string, v: ConsoleViewer): Promise<Attachment> {
    const stream = await this.hv.vnc(vmId)
    const prev = this.vncs.get(vmId)
    const slot = { v, stream }
    this.vncs.set(vmId, slot)
    prev?.v.close(closeReasons.takenOver())
    prev?.stream.destroy()
    // Backpressure: RFB cannot skip bytes, so QEMU's socket is paused while the viewer's is full.
    stream.on('data', (b: Buffer) => {
      if (v.write(b) === false) stream.pause()
    })
    stream.on('error', () => {})
    stream.once('close', () => {
      if (this.vncs.get(vmId) !== slot) return
      this.vncs.delete(vmId)
      v.close(closeReasons.ended(vmId))
    })
    const mine = () => this.vncs.get(vmId) === slot
    return {
      get attached() {
        return mine()
      },
      input: (b) => {
        if (this.vncs.get(vmId) === slot) stream.write(b)
      },
      resize: () => {},
      detach: () => {
        if (this.vncs.get(vmId) !== slot) return
        this.vncs.delete(vmId)
        stream.destroy()
      },
      drained: () => {
        if (mine()) stream.resume()
      },
    }
  }

  /** The current screen as a file's bytes (QEMU writes it; we read it back and remove it). */
  async shot(vmId: string, format: 'png' | 'ppm' = 'png'): Promise<Buffer> {
    const file = join(tmpdir(), `virtuoso-screen-${randomBytes(6).toString('hex')}.${format}`)
    try {
      await this.hv.screenshot(vmId, file, format)
      return await readFile(file)
    } finally {
      await rm(file, { force: true })
    }
  }

  /** Send the viewer a frame of at most cols × (rows × 2) pixels every `everyMs`, until detached. */
  frames(vmId: string, size: { cols: number; rows: number }, v: ConsoleViewer, everyMs = DEFAULT_FRAME_MS): Attachment {
    let on = true
    // A frame stands for itself: while the viewer's connection is full, frames are skipped.
    let full = false
    let timer: NodeJS.Timeout | null = null
    const tick = async (): Promise<void> => {
      if (!on) return
      try {
        if (!full) {
          const f = scaleFrame(parsePpm(await this.shot(vmId, 'ppm')), size.cols, size.rows * 2)
          if (on && v.write(encodeFrame(f)) === false) full = true
        }
      } catch (err) {
        if (!on) return
        on = false
        const e = err as { code?: string; message?: string }
        return v.close({ code: e.code ?? CONSOLE_SCREEN, message: e.message ?? String(err) })
      }
      if (on) timer = setTimeout(() => void tick(), everyMs)
    }
    void tick()
    return {
      get attached() {
        return on
      },
      input: () => {},
      resize: (cols, rows) => {
        size = { cols, rows }
      },
      detach: () => {
        on = false
        if (timer) clearTimeout(timer)
      },
      drained: () => void (full = false),
    }
  }

  close(): void {
    this.hv.off('change', this.onChange)
    this.hv.off('delete', this.onDelete)
    for (const id of [...this.vncs.keys()]) this.drop(id, closeReasons.shutdown())
  }

  private drop(vmId: string, reason: CloseReason): void {
    const slot = this.vncs.get(vmId)
    if (!slot) return
    this.vncs.delete(vmId)
    slot.v.close(reason)
    slot.stream.destroy()
  }
}
