// `virtuoso`: the command line. Thin: parses flags, calls a client, prints. See README for examples.
import yargs, { type Argv } from 'yargs'
import { hideBin } from 'yargs/helpers'
import { processCommands } from './cli/processes.ts'
import { marketCommands } from './cli/market-commands.ts'
import { sessionCommands } from './cli/session-commands.ts'
import { adminCommands } from './cli/admin-commands.ts'
import { uiCommands } from './cli/ui-commands.ts'
import { consoleCommands } from './cli/console-commands.ts'
import { migrateCommands } from './cli/migrate-commands.ts'
import { imageCommands } from './cli/image-commands.ts'
import { screenCommands } from './cli/screen-commands.ts'
import { tunnelCommands } from './cli/tunnel-commands.ts'
import { mediaCommands } from './cli/media-commands.ts'
import { fail } from './cli/output.ts'
import { globalOptions } from './cli/options.ts'
import { doctorCommand } from './cli/doctor.ts'
import { completionShell, packageVersion, setupCommand } from './cli/about.ts'
import { usage } from './cli/errors.ts'

// yargs picks the completion script's dialect (bash or zsh) from the environment when it is created.
completionShell(process.argv.slice(2))
let y: Argv = globalOptions(yargs(hideBin(process.argv)).scriptName('virtuoso').usage('$0 <command> [options]'))
  .version(packageVersion())
  .completion('completion', 'print the shell completion script: bash or zsh (default: from $SHELL)')
y = processCommands(y)
y = sessionCommands(y)
y = marketCommands(y)
y = adminCommands(y)
y = uiCommands(y)
y = consoleCommands(y)
y = migrateCommands(y)
y = imageCommands(y)
y = screenCommands(y)
y = tunnelCommands(y)
y = doctorCommand(y)
y = setupCommand(y)
y = mediaCommands(y)
// No top-level await: the bundle is CommonJS (scripts/build.js), which has none.
void y
  .demandCommand(1, 'say what to do: `virtuoso --help` lists the commands')
  .strict()
  .fail((msg, err) => {
    const json = process.argv.includes('--json')
    fail(err ?? usage(msg), json)
  })
  .help()
  .wrap(Math.min(110, process.stdout.columns || 80))
  .parseAsync()
