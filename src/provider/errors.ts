// Errors of the provider role: what its own work (image deliveries, the disks staged beside them,
// install media) refuses. The codes keep the values the hub and clients already match (a delivery's
// buyer acts on VMMP_NO_SPACE, a full disk reads HV_NO_SPACE as the hypervisor's own); each is named
// here once and thrown by this room as a ProviderError. The RPC answers every role gives (an unknown
// method, a malformed request) are the transport's NetError; a lower layer's error travels as `cause`.
import { VirtuosoError } from '../errors.ts'

/** No room on this node for an image or an ISO before a byte moves. */
export const PROVIDER_NO_SPACE = 'VMMP_NO_SPACE'
/** The disk staged beside a delivery could not be written: the file system is full. */
export const PROVIDER_DISK_FULL = 'HV_NO_SPACE'
/** The image a disk is to be made from is not in this node's cache. */
export const PROVIDER_IMAGE_MISSING = 'HV_IMAGE_MISSING'

export type ProviderCode = typeof PROVIDER_NO_SPACE | typeof PROVIDER_DISK_FULL | typeof PROVIDER_IMAGE_MISSING

export class ProviderError extends VirtuosoError {
  constructor(code: ProviderCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options)
    this.name = 'ProviderError'
  }
}

export const providerError = {
  noSpace: (path: string) =>
    new ProviderError(PROVIDER_NO_SPACE, `No space left for ${path}; free space on this provider and retry.`),
  imageMissing: (digest: string) =>
    new ProviderError(PROVIDER_IMAGE_MISSING, `image ${digest.slice(0, 12)}… is not cached on this node; store again`),
  /** A full file system as PROVIDER_DISK_FULL; anything else as it came. */
  disk: (err: unknown, dir: string): unknown => {
    const code = (err as NodeJS.ErrnoException).code
    if (code !== 'ENOSPC' && code !== 'EDQUOT') return err
    return new ProviderError(PROVIDER_DISK_FULL, `No space left writing the image into ${dir}; free space and retry.`, {
      cause: err,
    })
  },
}
