// vmmp@1: the VMMP 1.0 text frames (codec.ts) on a protomux channel of the hub <-> provider
// control connection. Message 0 carries the five 1.0 messages; message 1 the extension frames
// (PROGRESS, TIMING) that a plain 1.0 peer never has to parse. A frame that does not decode is answered
// per GRAMMAR.md (an unknown version gets a 1.0 answer) or dropped with `onReject`.
import type Protomux from 'protomux'
import type { Channel, Message } from 'protomux'
import { PROTOCOLS } from '../net/protocols.ts'
import { nodeError } from '../net/errors.ts'
import { bounded, TooLarge } from '../net/wire.ts'
import {
  MAX_FRAME_CHARS,
  answerUnsupported,
  decode,
  decodeExt,
  encode,
  encodeProgress,
  encodeTiming,
  type VmmpMessage,
  type VmmpProgress,
  type VmmpTiming,
} from './codec.ts'
import { vmmpError, VmmpVersionError } from './errors.ts'

export interface VmmpChannelHandlers {
  onMessage(msg: VmmpMessage): void
  onProgress?(p: VmmpProgress): void
  onTiming?(t: VmmpTiming): void
  /** Methods to answer a QUERY in an unsupported version with (destination side). */
  methods?(): string[]
  onReject?(err: unknown, frame: string): void
  onOpen?(): void
  onClose?(): void
}

export class VmmpChannel {
  private ch: Channel
  private frame: Message<string | TooLarge>
  private ext: Message<string | TooLarge>
  closed = false
  readonly opened: Promise<void>

  constructor(
    mux: Protomux,
    private h: VmmpChannelHandlers,
  ) {
    let open!: () => void
    let fail!: (e: Error) => void
    this.opened = new Promise((resolve, reject) => {
      open = resolve
      fail = reject
    })
    this.opened.catch(() => {})
    const ch = mux.createChannel({
      protocol: PROTOCOLS.vmmp,
      onopen: () => {
        open()
        h.onOpen?.()
      },
      onclose: () => {
        this.closed = true
        fail(vmmpError.closed('vmmp@1'))
        h.onClose?.()
      },
    })
    if (!ch) throw vmmpError.channelTaken()
    this.ch = ch
    // Every frame is ASCII of at most MAX_FRAME_CHARS (codec.ts): longer is refused from its length
    // prefix, before any decoding, and the channel goes on (the encoder never makes one).
    const encoding = bounded<string>(MAX_FRAME_CHARS, 'string')
    const refuse = (t: TooLarge) => this.h.onReject?.(nodeError.tooLarge(t.size, MAX_FRAME_CHARS), '')
    this.frame = ch.addMessage({ encoding, onmessage: (t) => (t instanceof TooLarge ? refuse(t) : this.onFrame(t)) })
    this.ext = ch.addMessage({ encoding, onmessage: (t) => (t instanceof TooLarge ? refuse(t) : this.onExt(t)) })
    ch.open()
  }

  send(msg: VmmpMessage): void {
    if (!this.closed) this.frame.send(encode(msg))
  }
  sendProgress(p: Omit<VmmpProgress, 'type'>): void {
    if (!this.closed) this.ext.send(encodeProgress(p))
  }
  sendTiming(t: Omit<VmmpTiming, 'type'>): void {
    if (!this.closed) this.ext.send(encodeTiming(t))
  }
  /** Raw text, for tests of what a strict peer does with a bad frame. */
  sendRaw(text: string): void {
    if (!this.closed) this.frame.send(text)
  }
  close(): void {
    if (!this.closed) this.ch.close()
  }

  private onFrame(text: string): void {
    let msg: VmmpMessage
    try {
      msg = decode(text)
    } catch (err) {
      if (err instanceof VmmpVersionError) {
        const answer = answerUnsupported(err, this.h.methods?.() ?? [])
        if (answer) this.send(answer)
      }
      this.h.onReject?.(err, text)
      return
    }
    this.h.onMessage(msg)
  }

  private onExt(text: string): void {
    try {
      const x = decodeExt(text)
      if (x.type === 'TIMING') this.h.onTiming?.(x)
      else this.h.onProgress?.(x)
    } catch (err) {
      this.h.onReject?.(err, text)
    }
  }
}
