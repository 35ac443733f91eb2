// Install media (the report's conclusion: "remote device support"): a buyer attaches an ISO to one of
// their machines; the provider fetches it content-addressed and verified from the buyer's client
// (src/provider/media.ts) and boots it as a CD-ROM from the machine's next boot. Only the owner may
// attach or detach (someone else's machine answers like one that does not exist), and only while the
// machine is powered off (stored or stopped): a suspended machine must resume with the devices it had.
import type { Ctx } from './context.ts'
import { ownVm, requireBuyer, withVmLock } from './context.ts'
import { errors } from './errors.ts'
import { eventOp, userOrigin } from './events.ts'
import { VirtuosoError, errorInfo } from '../errors.ts'
import type { Identity, VmRow } from './types.ts'

const DIGEST = /^[0-9a-f]{64}$/
const NAME = /^[^\0/]{1,128}$/
/** An ISO moves as long as bytes flow; the provider's stall watch ends a dead transfer. */
export const MEDIA_TIMEOUT_MS = 6 * 3600_000

export interface MediaInput {
  vmId: string
  name: string
  digest: string
  size: number
  /** The buyer client's HyperDHT key: it serves exactly this ISO to the machine's provider node. */
  source: string
}

function mediaTarget(ctx: Ctx, who: Identity | null, vmId: string, what: string) {
  const buyer = requireBuyer(who, what)
  const vm = ownVm(ctx, buyer, vmId)
  if (vm.state !== 'stored' && vm.state !== 'stopped')
    throw errors.actionNotAllowed(what, vm.state, ['stop it first: media change at the next boot'])
  const pm = vm.pmId ? ctx.store.get('pm', vm.pmId) : undefined
  if (!pm) throw errors.notFound('provider machine', String(vm.pmId))
  if (!ctx.gateway.online(pm.nodeKey)) throw errors.providerOffline(pm.id)
  return { buyer, pm }
}

export async function attachMedia(ctx: Ctx, who: Identity | null, input: MediaInput): Promise<VmRow> {
  const { buyer, pm } = mediaTarget(ctx, who, input.vmId, 'attach media to')
  if (!DIGEST.test(input.digest) || !DIGEST.test(input.source))
    throw errors.badInput('media', 'digest and source are 64 hex digits')
  if (!NAME.test(input.name)) throw errors.badInput('name', 'a file name of 1 to 128 characters')
  if (!Number.isSafeInteger(input.size) || input.size <= 0) throw errors.badInput('size', 'must be positive')
  return withVmLock(ctx, input.vmId, async () => {
    try {
      await ctx.gateway.command(
        pm.nodeKey,
        'media.attach',
        { vmId: input.vmId, digest: input.digest, size: input.size, source: input.source },
        { timeoutMs: MEDIA_TIMEOUT_MS },
      )
    } catch (err) {
      if (!ctx.gateway.online(pm.nodeKey)) throw errors.providerOffline(pm.id)
      const { code, message } = errorInfo(err)
      throw new VirtuosoError(code, `${input.name} could not be attached: ${message}`, { cause: err })
    }
    const vm = ctx.store.get('vm', input.vmId)!
    const next: VmRow = { ...vm, media: { name: input.name, digest: input.digest, size: input.size } }
    await ctx.store.write([
      { type: 'put', table: 'vm', key: vm.id, value: next },
      eventOp(ctx.clock(), {
        origin: userOrigin(buyer),
        type: 'vm.media.attach',
        message: `attached ${input.name} (${input.size} bytes) to ${vm.name} as a CD-ROM from its next boot`,
        users: [vm.owner, pm.owner],
        vmId: vm.id,
        pmId: pm.id,
      }),
    ])
    return next
  })
}

export async function detachMedia(ctx: Ctx, who: Identity | null, vmId: string): Promise<VmRow> {
  const { buyer, pm } = mediaTarget(ctx, who, vmId, 'detach media from')
  return withVmLock(ctx, vmId, async () => {
    try {
      await ctx.gateway.command(pm.nodeKey, 'media.detach', { vmId })
    } catch (err) {
      if (!ctx.gateway.online(pm.nodeKey)) throw errors.providerOffline(pm.id)
      throw errors.providerFailed('detach the media of', vmId, err)
    }
    const vm = ctx.store.get('vm', vmId)!
    const next: VmRow = { ...vm, media: null }
    await ctx.store.write([
      { type: 'put', table: 'vm', key: vm.id, value: next },
      eventOp(ctx.clock(), {
        origin: userOrigin(buyer),
        type: 'vm.media.detach',
        message: `detached ${vm.media?.name ?? 'the media'} from ${vm.name}`,
        users: [vm.owner, pm.owner],
        vmId: vm.id,
        pmId: pm.id,
      }),
    ])
    return next
  })
}
