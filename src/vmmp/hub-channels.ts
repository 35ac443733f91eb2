// The hub's vmmp@1 channels, one per provider node, known by the node's proven Noise key. Whoever
// waits for a node's frames (a QUERY, a running migration) listens here; a listener hears only the
// node's current channel, and hears it close when the node disconnects.
import type Protomux from 'protomux'
import { errorInfo } from '../errors.ts'
import { vmmpError } from './errors.ts'
import { VmmpChannel } from './channel.ts'
import type { VmmpMessage, VmmpProgress, VmmpTiming } from './codec.ts'

export interface Waiter {
  onMessage(m: VmmpMessage): void
  onProgress?(p: VmmpProgress): void
  onTiming?(t: VmmpTiming): void
  onClose(): void
}

export class HubChannels {
  #channels = new Map<string, VmmpChannel>()
  #waiters = new Map<string, Set<Waiter>>()

  constructor(private log?: (line: string) => void) {}

  /** Every connection: vmmp@1 next to control@1. */
  attach(nodeKey: string, mux: Protomux): VmmpChannel {
    const each = (ch: VmmpChannel, fn: (w: Waiter) => void) => {
      if (this.#channels.get(nodeKey) === ch) for (const w of this.#waiters.get(nodeKey) ?? []) fn(w)
    }
    const ch: VmmpChannel = new VmmpChannel(mux, {
      onOpen: () => {
        this.#channels.set(nodeKey, ch)
      },
      onClose: () => {
        if (this.#channels.get(nodeKey) !== ch) return
        this.#channels.delete(nodeKey)
        for (const w of this.#waiters.get(nodeKey) ?? []) w.onClose()
      },
      onMessage: (m) => each(ch, (w) => w.onMessage(m)),
      onProgress: (p) => each(ch, (w) => w.onProgress?.(p)),
      onTiming: (t) => each(ch, (w) => w.onTiming?.(t)),
      onReject: (err) => this.log?.(`vmmp: rejected a frame from ${nodeKey.slice(0, 8)}: ${errorInfo(err).message}`),
    })
    return ch
  }

  /** Hear the node's frames until the returned function is called. */
  listen(nodeKey: string, w: Waiter): () => void {
    let set = this.#waiters.get(nodeKey)
    if (!set) this.#waiters.set(nodeKey, (set = new Set()))
    set.add(w)
    return () => {
      set!.delete(w)
      if (!set!.size && this.#waiters.get(nodeKey) === set) this.#waiters.delete(nodeKey)
    }
  }

  /** The node's open channel, or null. */
  current(nodeKey: string): VmmpChannel | null {
    const ch = this.#channels.get(nodeKey)
    return ch && !ch.closed ? ch : null
  }

  /** The node's open channel; VMMP_CLOSED when it has none. */
  get(nodeKey: string): VmmpChannel {
    const ch = this.#channels.get(nodeKey)
    if (!ch || ch.closed) throw vmmpError.noChannel(nodeKey)
    return ch
  }
}
