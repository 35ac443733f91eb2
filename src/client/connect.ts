// Which market a command talks to, in order: --market/--bootstrap flags, VIRTUOSO_MARKET /
// VIRTUOSO_BOOTSTRAP, then the profile saved by `virtuoso login`.
import { MarketClient } from './market-client.ts'
import { parseBootstrap } from '../net/dht.ts'
import { parseKey } from '../net/identity.ts'
import { readProfile, type Profile } from './profile.ts'
import { clientError } from './errors.ts'

/** What names a market on the command line or in the dashboard; unset parts come from the environment. */
export interface TargetArgs {
  market?: string
  bootstrap?: string
  json?: boolean
}

export async function resolveTarget(
  args: TargetArgs,
): Promise<{ market: string; bootstrap: string; profile: Profile | null }> {
  const profile = await readProfile()
  const market = args.market ?? process.env.VIRTUOSO_MARKET ?? profile?.market
  const bootstrap = args.bootstrap ?? process.env.VIRTUOSO_BOOTSTRAP ?? profile?.bootstrap
  if (!market)
    throw clientError.usage(
      'which market? pass --market KEY (the hub prints it), set VIRTUOSO_MARKET, or `virtuoso login` with them once',
    )
  if (!bootstrap)
    throw clientError.usage(
      'how to reach the market? pass --bootstrap HOST:PORT (from `virtuoso dht`), set VIRTUOSO_BOOTSTRAP, or ' +
        'say "public"',
    )
  return { market, bootstrap, profile }
}

/** Connect, using the saved session when the profile is for the same market. */
export async function connect(args: TargetArgs, opts: { auth?: boolean } = {}): Promise<MarketClient> {
  const { market, bootstrap, profile } = await resolveTarget(args)
  const token = profile?.market === market ? profile.token : undefined
  if (opts.auth && !token) throw clientError.notLoggedIn()
  return MarketClient.connect({ marketKey: parseKey(market), bootstrap: parseBootstrap(bootstrap), token })
}

/** Run one call and close the connection, whatever happens. */
export async function withClient<T>(
  args: TargetArgs,
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
