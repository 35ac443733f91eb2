// The accounts a whole-system run needs, made through the CLI the way users make them: each user
// signs up and logs in (in a home of its own), a buyer is credited by the operator, and the provider
// adds each node by its pairing code; and the operator's debian-12 image in the catalog. Shared by
// the end-to-end tests and the benchmarks' flow (test/bench/flow-env.ts), so it imports no test runner.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { DEFAULT_IMAGE_DIR } from '../../src/hv/image.ts'

/** The prices a provider machine asks in these runs (micro-units, as `pm add` takes them). */
export const PM_PRICES = ['--speed-unit', '100', '--speed-price', '0.000001', '--memory-unit', '64']
  .concat(['--memory-price', '0.000001', '--running-period', '60', '--storage-unit', '1024'])
  .concat(['--storage-price', '0.01', '--storage-period', '1'])

/** The usual cast: a provider and two buyers. */
export const PROV_ALICE_BOB: Array<[string, 'buyer' | 'provider']> = [
  ['prov', 'provider'],
  ['alice', 'buyer'],
  ['bob', 'buyer'],
]

/** Runs `virtuoso ARGS --json` as `who` (that user's home); never throws for a non-zero exit. */
export type RunAs = (who: string, args: string[], input?: string) => Promise<{ exitCode: number; json: any }>

export interface UsersOptions {
  /** [name, type]: each signs up and logs in with the password `password(name)`. */
  users: Array<[string, 'buyer' | 'provider']>
  password?: (name: string) => string
  /** The hub's data directory, for `virtuoso admin credit`. */
  hubData: string
  /** [buyer, amount]: credited by the operator (home `op`). */
  credit?: [string, string]
  /** The provider (a name in `users`) that adds one machine per pairing code, named `name(i)`. */
  provider?: string
  pairings?: string[]
  pmName?: (i: number) => string
  /** What each machine asks (default PM_PRICES). */
  prices?: string[]
}

const failed = (what: string, r: { json: any }) => new Error(`${what} failed: ${JSON.stringify(r.json)}`)

/** The built debian-12 image's path; throws, naming the fix, when scripts/setup.sh has not built it
 *  (the tests that need it fail, never skip). */
export function debianImage(): string {
  const file = join(DEFAULT_IMAGE_DIR, 'debian-12.img')
  if (!existsSync(file)) throw new Error(`${file} is not built: run \`bash scripts/setup.sh\``)
  return file
}

/** The operator adds the built debian-12 image to the hub's catalog. */
export async function addDebianImage(run: RunAs, hubData: string): Promise<void> {
  const add = ['admin', 'image', 'add', 'debian-12', debianImage()]
  const r = await run('op', [...add, '--os', 'debian-12', '--data', hubData])
  if (r.exitCode !== 0) throw failed('admin image add debian-12', r)
}

/** Makes the accounts; returns the provider machines' ids, in the order of `pairings`. */
export async function setUpUsers(run: RunAs, o: UsersOptions): Promise<{ pms: string[] }> {
  const password = o.password ?? ((u: string) => `${u}-password`)
  for (const [u, type] of o.users) {
    const email = `${u}@example.org`
    const r = await run(
      u,
      ['signup', '--user', u, '--type', type, '--email', email, '--password-stdin'],
      `${password(u)}\n`,
    )
    if (r.exitCode !== 0) throw failed(`signup ${u}`, r)
    const l = await run(u, ['login', '--user', u, '--password-stdin'], `${password(u)}\n`)
    if (l.exitCode !== 0) throw failed(`login ${u}`, l)
  }
  if (o.credit) {
    const r = await run('op', ['admin', 'credit', o.credit[0], o.credit[1], '--data', o.hubData])
    if (r.exitCode !== 0) throw failed('admin credit', r)
  }
  const pms: string[] = []
  for (const [i, code] of (o.pairings ?? []).entries()) {
    const name = o.pmName?.(i) ?? `p${i}`
    for (let t = 0; ; t++) {
      const r = await run(o.provider ?? 'prov', [
        'pm',
        'add',
        '--pairing',
        code,
        '--name',
        name,
        ...(o.prices ?? PM_PRICES),
      ])
      if (r.exitCode === 0) {
        pms.push(r.json.id)
        break
      }
      // A node that has not said hello to the hub yet: its pairing code is not known there.
      if (r.json?.error?.code !== 'MARKET_PAIRING_INVALID' || t > 30) throw failed(`pm add ${name}`, r)
      await new Promise((res) => setTimeout(res, 300))
    }
  }
  return { pms }
}
