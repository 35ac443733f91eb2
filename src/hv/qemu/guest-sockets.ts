// The guest's byte streams on the host: its serial console and its VNC server, each a unix socket
// QEMU listens on. QEMU serves one client per socket, so a new client for a machine replaces the old
// one, and a machine that stops or suspends drops its clients.
import { connect, type Socket } from 'node:net'
import { HvError, HV_VMM_FAILED } from '../errors.ts'

export class GuestSockets {
  #clients = new Map<string, Socket>()

  /** `what` names the stream in the error a user sees ('console', 'screen'). */
  constructor(readonly what: string) {}

  async attach(id: string, path: string): Promise<Socket> {
    this.drop(id)
    const sock = await new Promise<Socket>((res, rej) => {
      const s = connect(path)
      s.once('connect', () => res(s))
      s.once('error', (e) =>
        rej(
          new HvError(
            HV_VMM_FAILED,
            `Cannot open the ${this.what} of machine '${id}': ${e.message}; the machine may be shutting down.`,
            { cause: e },
          ),
        ),
      )
    })
    sock.on('error', () => {})
    this.#clients.set(id, sock)
    sock.once('close', () => {
      if (this.#clients.get(id) === sock) this.#clients.delete(id)
    })
    return sock
  }

  drop(id: string): void {
    this.#clients.get(id)?.destroy()
    this.#clients.delete(id)
  }

  close(): void {
    for (const s of this.#clients.values()) s.destroy()
    this.#clients.clear()
  }
}
