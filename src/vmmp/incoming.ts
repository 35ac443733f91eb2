// What the hub's 'migration.prepare-dest' tells a destination about an arriving machine, checked.
import type Protomux from 'protomux'
import type { NoiseSocket } from 'hyperdht'
import type { VmConfig } from '../hv/types.ts'
import { vmmpError } from './errors.ts'
import type { OriginSsh } from './origin-ssh.ts'
import { checkDigest } from './image-store.ts'
import { requireCount, requireText } from './params.ts'

/** What prepare-dest answers as `scp`: this node pulls SCP with OpenSSH from the origin's one-time sshd. */
export const SCP_TRANSPORT = 'openssh'

export interface Incoming {
  migrationId: string
  vmId: string
  version: number
  config: VmConfig
  suspended: boolean
  method: string
  /** The origin's node key, and where and whom SCP dials (origin-ssh.ts, as the hub decided it). */
  origin: { key: string } & OriginSsh
  /** The install media attached to the machine, fetched from the origin after the disk. */
  media: { digest: string; size: number } | null
  /** RSYNC: the connection to the origin, dialed when the hub says the migration is coming. */
  link?: Promise<{ socket: NoiseSocket; mux: Protomux }>
}

const text = (v: unknown): string | null => (typeof v === 'string' ? v : null)

export function parseIncoming(p: Record<string, any>): Incoming {
  const inc: Incoming = {
    migrationId: requireText(p.migrationId, 'migrationId'),
    vmId: requireText(p.vmId, 'vmId'),
    version: requireCount(p.version, 'version'),
    config: p.config as VmConfig,
    suspended: p.suspended === true,
    method: requireText(p.method, 'method'),
    origin: {
      key: requireText(p.origin?.key, 'origin.key'),
      sshHost: text(p.origin?.sshHost),
      sshPort: Number.isInteger(p.origin?.sshPort) ? p.origin.sshPort : null,
      sshFingerprint: text(p.origin?.sshFingerprint),
      sshHostKey: text(p.origin?.sshHostKey),
      sshUser: text(p.origin?.sshUser),
      sshKey: text(p.origin?.sshKey),
    },
    media: p.media ? { digest: checkDigest(p.media.digest), size: requireCount(p.media.size, 'media.size') } : null,
  }
  if (inc.method === 'SCP' && !inc.origin.sshKey)
    throw vmmpError.protocol(
      'no one-time SSH key came for SCP: the origin or the hub runs an older Virtuoso (SCP over ssh2 SFTP); ' +
        'upgrade it or use RSYNC',
    )
  return inc
}
