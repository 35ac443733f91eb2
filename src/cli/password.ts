// Passwords come from a prompt with echo off, or from the first line of stdin (--password-stdin),
// never from a flag (flags end up in shell history and `ps`).
import { createInterface } from 'node:readline'
import { usage } from './errors.ts'

export async function readPassword(opts: { stdin: boolean; prompt?: string; confirm?: boolean }): Promise<string> {
  if (opts.stdin) return readFirstLine()
  if (!process.stdin.isTTY) throw usage('no terminal to ask for a password on: pass --password-stdin and pipe it in')
  const pw = await promptHidden(opts.prompt ?? 'Password: ')
  if (opts.confirm && (await promptHidden('Again: ')) !== pw)
    throw usage('the two passwords differ; nothing was changed')
  return pw
}

async function readFirstLine(): Promise<string> {
  let data = ''
  for await (const chunk of process.stdin) {
    data += chunk
    if (data.includes('\n')) break
  }
  return data.split(/\r?\n/)[0]
}

function promptHidden(prompt: string): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true })
    const out = rl as unknown as { _writeToOutput: (s: string) => void }
    process.stderr.write(prompt)
    out._writeToOutput = () => {} // echo off
    rl.question('', (answer) => {
      rl.close()
      process.stderr.write('\n')
      resolve(answer)
    })
  })
}
