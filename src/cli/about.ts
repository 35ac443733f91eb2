// `virtuoso --version`, `virtuoso completion [bash|zsh]` and `virtuoso setup`.
import { readFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import type { Argv } from 'yargs'
import { join } from 'node:path'
import { packageRoot } from '../root.ts'

export function packageVersion(): string {
  return JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).version
}

/** `completion zsh` / `completion bash` choose the dialect yargs prints (it reads SHELL and ZSH_NAME). */
export function completionShell(args: string[]): void {
  if (args[0] !== 'completion') return
  if (args[1] === 'zsh') process.env.ZSH_NAME = 'zsh'
  else if (args[1] === 'bash') {
    delete process.env.ZSH_NAME
    process.env.SHELL = '/bin/bash'
  }
}

/** `virtuoso setup`: the package's scripts/setup.sh, wherever the package is installed. */
export function setupCommand(y: Argv): Argv {
  return y.command(
    'setup',
    'install the missing Debian packages (as root or with sudo; else print the apt-get line) and build the guest image',
    (a) =>
      a.option('check', { type: 'boolean', default: false, describe: 'only report what is missing; change nothing' }),
    async (argv) => {
      const r = spawnSync('bash', [join(packageRoot(), 'scripts/setup.sh'), ...(argv.check ? ['--check'] : [])], {
        stdio: 'inherit',
      })
      process.exit(r.status ?? 1)
    },
  )
}
