// The options every `virtuoso` command takes (the entry, src/cli.ts, and test entries share them).
import type { Argv } from 'yargs'
import type { TargetArgs } from '../client/connect.ts'

export type GlobalArgs = TargetArgs

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
