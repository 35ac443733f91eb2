// Commands that are one market@1 call each: build params from flags, call, render.
import type { Argv } from 'yargs'
import { readFileSync } from 'node:fs'
import { withClient } from '../client/connect.ts'
import type { GlobalArgs } from './options.ts'
import { fail, print } from './output.ts'
import * as render from './render.ts'
import { attach } from './console-commands.ts'
import { CliError, CLI_NOT_FOUND, usage } from './errors.ts'

type Args = GlobalArgs & Record<string, any>

interface Spec {
  command: string
  describe: string
  method: string | ((a: Args) => string)
  /** Instead of one call of `method`: a command that needs more than one answer. */
  run?: (call: (method: string, params: unknown) => Promise<any>, a: Args) => Promise<unknown>
  options?: (y: Argv) => Argv
  params?: (a: Args) => unknown
  render?: (result: any, a: Args) => string
  auth?: boolean
  /** Runs after the result is printed; returns the exit code. */
  after?: (result: any, a: Args) => Promise<number>
}

function add(y: Argv, s: Spec): Argv {
  return y.command(
    s.command,
    s.describe,
    (a) => (s.options ? s.options(a) : a),
    async (argv) => {
      const a = argv as unknown as Args
      try {
        const method = typeof s.method === 'string' ? s.method : s.method(a)
        const result = await withClient(
          a,
          (c) => (s.run ? s.run((m, p) => c.call(m, p), a) : c.call(method, s.params ? s.params(a) : {})),
          { auth: s.auth ?? true },
        )
        print(!!a.json, result, () => (s.render ? s.render(result, a) : render.ok(result)))
        if (s.after) process.exitCode = await s.after(result, a)
      } catch (err) {
        fail(err, !!a.json)
      }
    },
  )
}

/** The key file's text; the market checks that it holds OpenSSH public keys. */
function readKeyFile(file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch (err) {
    throw usage(`cannot read the SSH key file ${file}: ${(err as Error).message}`, err)
  }
}

const money = (describe: string) => ({ type: 'string' as const, describe })
const strip = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined))

const NET_RENDER: Record<string, (r: any) => string> = {
  list: render.networks,
  create: render.network,
  show: render.networkShow,
}
const netParams = (a: Args) => (a.action === 'list' ? {} : strip({ name: a.name ?? '', subnet: a.subnet }))

/** One network with its machines, each with its live traffic counters (null: none reported yet). */
async function netShow(call: (method: string, params: unknown) => Promise<any>, name: string) {
  const { networks } = await call('net.list', {})
  const net = (networks as any[]).find((n) => n.name === name)
  if (!net) throw new CliError(CLI_NOT_FOUND, `no network named ${name}: see \`virtuoso net list\``)
  const { traffic } = await call('traffic', {})
  const byVm = new Map((traffic as any[]).map((t) => [t.vmId, t]))
  return { ...net, members: net.members.map((m: any) => ({ ...m, traffic: byVm.get(m.vmId) ?? null })) }
}

export function marketCommands(y: Argv): Argv {
  const specs: Spec[] = [
    { command: 'whoami', describe: 'show who you are logged in as', method: 'whoami', render: render.whoami },
    {
      command: 'configs',
      describe: 'list the standard configurations with market-average prices',
      method: 'configs',
      auth: false,
      render: render.configs,
    },
    {
      command: 'providers',
      describe: 'list the provider marketplace with market-average resource prices',
      method: 'providers',
      options: (a) =>
        a.option('sort', {
          choices: ['name', 'connectspeed'],
          describe: 'by owner and name (default), or fastest network first',
        }),
      params: (a) => strip({ sort: a.sort }),
      auth: false,
      render: render.providers,
    },
    {
      command: 'register',
      describe: 'register a new virtual machine (from --config NAME or explicit sizes)',
      method: 'register',
      options: (a) =>
        a
          .option('config', { type: 'string', describe: 'a standard configuration name (see `configs`)' })
          .option('name', { type: 'string', describe: 'a name for the machine' })
          .option('memory', { type: 'number', describe: 'memory, MB' })
          .option('hd', { type: 'number', describe: 'disk, MB' })
          .option('speed', { type: 'number', describe: 'speed, bogomips' })
          .option('os', { type: 'string', describe: "'linux' boots the guest image; 'none' a blank disk" })
          .option('net', { type: 'string', describe: 'your network to join (default: `default`, made on first use)' })
          .option('ssh-key', {
            type: 'string',
            describe: "an SSH public key file (.pub) for root's login on the machine",
          })
          .option('image', { type: 'string', describe: 'a catalog image for its disk (see `images`)' })
          .option('bid-storage', money('most you will pay for storage, per day'))
          .option('bid-running', money('most you will pay for running, per hour')),
      params: (a) =>
        strip({
          config: a.config,
          name: a.name,
          memory: a.memory,
          hd: a.hd,
          speed: a.speed,
          os: a.os === 'none' ? null : a.os,
          net: a.net,
          sshKey: a['ssh-key'] === undefined ? undefined : readKeyFile(a['ssh-key']),
          image: a.image,
          bidStorage: a['bid-storage'],
          bidRunning: a['bid-running'],
        }),
      render: render.vm,
    },
    {
      command: 'net <action> [name]',
      describe:
        'your private networks: net create NAME [--subnet CIDR] | net list | net show NAME (machines, traffic) | ' +
        'net delete NAME',
      method: (a) => `net.${a.action}`,
      run: (call, a) => (a.action === 'show' ? netShow(call, a.name ?? '') : call(`net.${a.action}`, netParams(a))),
      options: (a) =>
        a
          .positional('action', { choices: ['create', 'list', 'show', 'delete'] })
          .option('subnet', { type: 'string', describe: 'create: a private IPv4 network (default 10.42.0.0/24)' }),
      render: (r, a) => (NET_RENDER[a.action as string] ?? render.ok)(r),
    },
    {
      command: 'traffic',
      describe: 'live network traffic of your machines (a provider: of the machines it hosts), as the switch counts',
      method: 'traffic',
      render: render.traffic,
    },
    {
      command: 'edit <vmid>',
      describe: 'change a registered machine (sizes, os, bids, name)',
      method: 'edit',
      options: (a) =>
        a
          .option('name', { type: 'string' })
          .option('memory', { type: 'number' })
          .option('hd', { type: 'number' })
          .option('speed', { type: 'number' })
          .option('os', { type: 'string' })
          .option('image', { type: 'string', describe: 'a catalog image (see `images`)' })
          .option('bid-storage', money('per day'))
          .option('bid-running', money('per hour')),
      params: (a) =>
        strip({
          vmId: a.vmid,
          name: a.name,
          memory: a.memory,
          hd: a.hd,
          speed: a.speed,
          os: a.os === 'none' ? null : a.os,
          image: a.image,
          bidStorage: a['bid-storage'],
          bidRunning: a['bid-running'],
        }),
      render: render.vm,
    },
    {
      command: 'machines',
      describe: 'list your machines (virtual for buyers, physical for providers)',
      method: 'machines',
      render: render.machines,
    },
    {
      command: 'search [vmid]',
      describe: 'find provider machines with room for a machine (or --config before registering)',
      method: 'search',
      options: (a) =>
        a.option('config', { type: 'string' }).option('sort', {
          choices: ['running', 'storage', 'total', 'connectspeed'],
          default: 'total',
          describe: 'cheapest first (running, storage, total per day), or fastest network first',
        }),
      params: (a) => strip({ vmId: a.vmid, config: a.config, sort: a.sort }),
      render: render.search,
    },
    ...(['start', 'stop', 'suspend', 'resume', 'delete'] as const).map((verb): Spec => ({
      command: `${verb} <vmid>`,
      describe: `${verb} a virtual machine`,
      method: verb,
      params: (a) => ({ vmId: a.vmid }),
      render: render.vmOrOk,
      // Report §6.3.2-6.3.3: start and resume lead straight to the machine's console.
      ...(verb === 'start' || verb === 'resume'
        ? {
            options: (y: Argv) =>
              y.option('console', { type: 'boolean', default: false, describe: 'attach to its console once it runs' }),
            after: async (_r: unknown, a: Args) => (a.console ? attach(a, a.vmid) : 0),
          }
        : {}),
    })),
    {
      command: 'evict <vmid>',
      describe: 'provider: delete a machine whose storage stayed unpaid past its grace period (after two warnings)',
      method: 'evict',
      params: (a) => ({ vmId: a.vmid }),
    },
    {
      command: 'account',
      describe: 'balance and what each machine was charged (or earned)',
      method: 'account',
      render: render.account,
    },
    {
      command: 'pm <action> [pmid]',
      describe: 'provider machines: pm add | pm edit PMID | pm delete PMID',
      method: (a) => `pm.${a.action}`,
      options: (a) =>
        a
          .positional('action', { choices: ['add', 'edit', 'delete'] })
          .option('id', { type: 'string', describe: 'the physical machine (edit, delete)' })
          .option('pairing', { type: 'string', describe: 'pairing code the node printed (add)' })
          .option('like', { type: 'string', describe: 'start from the settings of another of your machines (add)' })
          .option('name', { type: 'string' })
          .option('speed-unit', { type: 'number', describe: 'bogomips per chunk' })
          .option('speed-price', money('per chunk per second'))
          .option('memory-unit', { type: 'number', describe: 'MB per chunk' })
          .option('memory-price', money('per chunk per second'))
          .option('running-period', { type: 'number', describe: 'seconds between running charges' })
          .option('storage-unit', { type: 'number', describe: 'MB per chunk' })
          .option('storage-price', money('per chunk per day'))
          .option('storage-period', { type: 'string', describe: 'days between storage charges (fractions allowed)' })
          .option('connect-speed', {
            type: 'number',
            describe: "add: this machine's network speed in Mbit/s (checked against a throughput the hub measures)",
          })
          .option('drain', {
            type: 'string',
            describe: 'delete: let owners move away for this long first (e.g. 2h, 3d)',
          }),
      params: (a) =>
        strip({
          pmId: a.pmid ?? a.id,
          pairing: a.pairing,
          like: a.like,
          name: a.name,
          speedUnit: a['speed-unit'],
          speedPrice: a['speed-price'],
          memoryUnit: a['memory-unit'],
          memoryPrice: a['memory-price'],
          runningPeriod: a['running-period'],
          storageUnit: a['storage-unit'],
          storagePrice: a['storage-price'],
          storagePeriodDays: a['storage-period'],
          connectSpeed: a['connect-speed'],
          drain: a.drain,
        }),
      render: render.pmOrOk,
    },
  ]
  for (const s of specs) y = add(y, s)
  return y
}
