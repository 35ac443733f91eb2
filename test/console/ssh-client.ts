// Drive the real OpenSSH client against our server: password through SSH_ASKPASS (no sshpass here),
// no host key pinning (a throwaway known_hosts), loopback only.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { mkdtemp, writeFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface SshRun {
  proc: ChildProcessWithoutNullStreams
  out: () => string
  exited: Promise<number | null>
  cleanup(): Promise<void>
}

export async function runSsh(opts: {
  port: number
  user: string
  password: string
  extraArgs?: string[]
  command?: string[]
}): Promise<SshRun> {
  const dir = await mkdtemp(join(tmpdir(), 'virtuoso-askpass-'))
  const askpass = join(dir, 'askpass.sh')
  await writeFile(askpass, '#!/bin/sh\nprintf "%s\\n" "$VIRTUOSO_TEST_PASSWORD"\n', { mode: 0o700 })
  const proc = spawn(
    '/usr/bin/ssh',
    [
      '-tt',
      '-p',
      String(opts.port),
      '-o',
      'StrictHostKeyChecking=no',
      '-o',
      'UserKnownHostsFile=/dev/null',
      '-o',
      'LogLevel=ERROR',
      '-o',
      'PreferredAuthentications=password',
      '-o',
      'PubkeyAuthentication=no',
      '-o',
      'NumberOfPasswordPrompts=1',
      '-o',
      'ConnectTimeout=10',
      '-F',
      '/dev/null',
      ...(opts.extraArgs ?? []),
      `${opts.user}@127.0.0.1`,
      ...(opts.command ?? []),
    ],
    {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: dir,
        SSH_ASKPASS: askpass,
        SSH_ASKPASS_REQUIRE: 'force',
        DISPLAY: ':0',
        VIRTUOSO_TEST_PASSWORD: opts.password,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  )
  let out = ''
  proc.stdout.on('data', (b: Buffer) => {
    out += b.toString()
  })
  proc.stderr.on('data', (b: Buffer) => {
    out += b.toString()
  })
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)))
  return {
    proc,
    out: () => out,
    exited,
    async cleanup() {
      proc.kill()
      await rm(dir, { recursive: true, force: true })
    },
  }
}
