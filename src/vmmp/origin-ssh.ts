// Where and whom an SCP destination dials, as the hub decides it: the host key the origin node gave
// at its hello over its Noise-authenticated control@1, and the address the hub saw that connection
// come from; the origin's own claim only fills the gap when the hub saw it on loopback (then the
// origin runs beside the hub, and the address it publishes serves other machines better). The port
// and the one-time login are the origin's answer to migration.prepare-origin.

export interface OriginSsh {
  sshHost: string | null
  sshPort: number | null
  sshFingerprint: string | null
  /** SCP: the origin's host key as the hub learned it at the origin's hello (`ssh-ed25519 …`). */
  sshHostKey: string | null
  /** SCP: the one-time login the origin made for this migration. */
  sshUser: string | null
  sshKey: string | null
}

const text = (v: unknown): string | null => (typeof v === 'string' ? v : null)

export function originSsh(
  /** What the origin said at its last hello (market.nodeInfo). */
  info: Record<string, unknown>,
  /** The address its connection came from, as the hub saw it, if known. */
  seen: string | null,
  /** The origin's answer to migration.prepare-origin. */
  prepared: { sshHost?: unknown; sshPort?: unknown; sshUser?: unknown; sshKey?: unknown },
): OriginSsh {
  const said = typeof prepared.sshHost === 'string' ? prepared.sshHost : null
  return {
    sshHost: seen && !isLoopback(seen) ? seen : said,
    sshPort: Number.isInteger(prepared.sshPort) ? (prepared.sshPort as number) : null,
    sshFingerprint: text(info.sshFingerprint),
    sshHostKey: text(info.sshHostKey),
    sshUser: text(prepared.sshUser),
    sshKey: text(prepared.sshKey),
  }
}

function isLoopback(host: string): boolean {
  return /^127\./.test(host) || host === '::1' || host === 'localhost'
}
