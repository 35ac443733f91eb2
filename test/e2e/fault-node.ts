// `virtuoso node` with migration faults injected through MigrationServer's constructor options, for the
// fault tests: `node bin/run-ts.js test/e2e/fault-node.ts FAULTS_JSON node --data …`. The production
// command has no way to set them; only this test entry does.
import yargs from 'yargs'
import { globalOptions } from '../../src/cli/options.ts'
import { nodeCommand } from '../../src/cli/processes.ts'
import type { MigrationFaults } from '../../src/vmmp/server.ts'

const [faults, ...args] = process.argv.slice(2)
const migrationFaults = JSON.parse(faults ?? '{}') as MigrationFaults
await nodeCommand({ migrationFaults })(globalOptions(yargs(args)))
  .strict()
  .parseAsync()
