// Which market a command talks to, in order: --market/--bootstrap flags, VIRTUOSO_MARKET /
// VIRTUOSO_BOOTSTRAP, then the profile saved by `virtuoso login`.
import type { Argv } from 'yargs'
import { MarketClient } from '../client/market-client.ts'
import { parseBootstrap } from '../net/dht.ts'
import { parseKey } from '../net/identity.ts'
import { readProfile, type Profile } from '../client/profile.ts'
import { VirtuosoError } from '../errors.ts'

export interface GlobalArgs {
  market?: string
  bootstrap?: string
  json?: boolean
}

/** The options every command takes. */
export function globalOptions(y: Argv): Argv<GlobalArgs> {
  return y
    .option('json', { type: 'boolean', default: false, global: true, describe: 'machine-readable output' })
    .option('market', {
      type: 'string',
      global: true,
      describe: "market key (the hub's public key); or VIRTUOSO_MARKET",
    })
    .option('bootstrap', {
      type: 'string',
      global: true,
      describe: 'DHT bootstrap HOST:PORT or "public"; or VIRTUOSO_BOOTSTRAP',
    })
}

export async function resolveTarget(
  args: GlobalArgs,
): Promise<{ market: string; bootstrap: string; profile: Profile | null }> {
  const profile = await readProfile()
  const market = args.market ?? process.env.VIRTUOSO_MARKET ?? profile?.market
  const bootstrap = args.bootstrap ?? process.env.VIRTUOSO_BOOTSTRAP ?? profile?.bootstrap
  if (!market)
    throw new VirtuosoError(
      'CLI_USAGE',
      'which market? pass --market KEY (the hub prints it), set VIRTUOSO_MARKET, or `virtuoso login` with them once',
    )
  if (!bootstrap)
    throw new VirtuosoError(
      'CLI_USAGE',
      'how to reach the market? pass --bootstrap HOST:PORT (from `virtuoso dht`), set VIRTUOSO_BOOTSTRAP, or say "public"',
    )
  return { market, bootstrap, profile }
}

/** Connect, using the saved session when the profile is for the same market. */
export async function connect(args: GlobalArgs, opts: { auth?: boolean } = {}): Promise<MarketClient> {
  const { market, bootstrap, profile } = await resolveTarget(args)
  const token = profile?.market === market ? profile.token : undefined
  if (opts.auth && !token)
    throw new VirtuosoError(
      'MARKET_AUTH_REQUIRED',
      'you are not logged in to this market: run `virtuoso login --user NAME` first',
    )
  return MarketClient.connect({ marketKey: parseKey(market), bootstrap: parseBootstrap(bootstrap), token })
}

/** Run one call and close the connection, whatever happens. */
export async function withClient<T>(
  args: GlobalArgs,
  fn: (c: MarketClient) => Promise<T>,
  opts: { auth?: boolean } = {},
): Promise<T> {
  const client = await connect(args, opts)
  try {
    return await fn(client)
  } finally {
    await client.close()
  }
}
