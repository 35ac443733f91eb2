// `virtuoso media attach VMID FILE.iso` and `media detach VMID`: install media for a machine (only the
// owner's, only while it is stored or stopped). The ISO goes from this client straight to the
// machine's provider node, content-addressed and verified there (src/client/media-source.ts).
import type { Argv } from 'yargs'
import { withClient } from '../client/connect.ts'
import type { GlobalArgs } from './options.ts'
import { fail, print } from './output.ts'
import * as render from './render.ts'
import { serveMedia } from '../client/media-source.ts'
import { basename } from 'node:path'
import type { PmRow, VmRow } from '../market/types.ts'
import { CliError, CLI_NOT_ALLOWED, CLI_NOT_FOUND } from './errors.ts'

type Args = GlobalArgs & Record<string, any>
const MEDIA_TIMEOUT_MS = 6 * 3600_000

async function attach(a: Args): Promise<VmRow> {
  return withClient(
    a,
    async (c) => {
      const mine = await c.call<{ vms: VmRow[] }>('machines', {})
      const vm = (mine.vms ?? []).find((v) => v.id === a.vmid)
      if (!vm) throw new CliError(CLI_NOT_FOUND, `machine ${a.vmid} not found; list yours with \`virtuoso machines\``)
      if (!vm.pmId) throw new CliError(CLI_NOT_ALLOWED, `machine ${vm.name} is not stored on a provider yet`)
      const { pms } = await c.call<{ pms: PmRow[] }>('providers', {})
      const pm = pms.find((p) => p.id === vm.pmId)
      if (!pm) throw new CliError(CLI_NOT_FOUND, `provider machine ${vm.pmId} not found`)
      const src = await serveMedia(c.dhtNode, String(a.file), pm.nodeKey)
      try {
        return await c.call<VmRow>(
          'media.attach',
          { vmId: vm.id, name: basename(String(a.file)), digest: src.digest, size: src.size, source: src.key },
          { timeoutMs: MEDIA_TIMEOUT_MS },
        )
      } finally {
        await src.close()
      }
    },
    { auth: true },
  )
}

export function mediaCommands(y: Argv): Argv {
  return y.command(
    'media',
    'install media: attach an ISO to a machine as a CD-ROM from its next boot',
    (b) =>
      b
        .command(
          'attach <vmid> <file>',
          "send FILE (an ISO) to the machine's provider and attach it",
          (c) => c,
          async (argv) => {
            const a = argv as unknown as Args
            try {
              const vm = await attach(a)
              print(!!a.json, vm, () => `${render.vm(vm)}\n  media ${vm.media?.name} attached from the next boot`)
            } catch (err) {
              fail(err, !!a.json)
            }
          },
        )
        .command(
          'detach <vmid>',
          "remove the machine's install media (the provider deletes it)",
          (c) => c,
          async (argv) => {
            const a = argv as unknown as Args
            try {
              const vm = await withClient(a, (c) => c.call<VmRow>('media.detach', { vmId: a.vmid }), { auth: true })
              print(!!a.json, vm, () => render.vm(vm))
            } catch (err) {
              fail(err, !!a.json)
            }
          },
        )
        .demandCommand(1, 'media needs a subcommand: attach or detach'),
    () => {},
  )
}
