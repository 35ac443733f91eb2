// scripts/setup.sh decides what to install and how from dpkg-query, id and sudo. The test puts
// stand-ins for those three first on PATH (the real apt-get is never reached: the sudo stand-in
// records what it was asked to run), so every branch runs on any machine, root or not.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execa } from 'execa'
import { mkdtemp, readFile, rm, writeFile, chmod } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const SETUP = resolve(import.meta.dirname, '../../scripts/setup.sh')
let dir: string

async function shim(name: string, body: string): Promise<void> {
  await writeFile(join(dir, 'bin', name), `#!/bin/sh\n${body}\n`)
  await chmod(join(dir, 'bin', name), 0o755)
}

/** Runs setup.sh as a non-root user to whom dpkg-query reports `absent` as not installed. */
async function run(absent: string[], sudo: 'none' | 'works', args: string[] = []) {
  await rm(join(dir, 'bin'), { recursive: true, force: true })
  await execa('mkdir', ['-p', join(dir, 'bin')])
  const cases = absent.length ? `case "$last" in ${absent.join('|')}) exit 1;; esac` : ''
  await shim('dpkg-query', `for a; do last=$a; done\n${cases}\nexec /usr/bin/dpkg-query "$@"`)
  await shim('id', '[ "$1" = -u ] && { echo 1000; exit 0; }\nexec /usr/bin/id "$@"')
  if (sudo === 'works') await shim('sudo', `[ "$1" = -n ] && exit 0\necho "$@" >> ${join(dir, 'sudo.log')}\nexit 0`)
  else await shim('sudo', 'echo "sudo: a password is required" >&2\nexit 1')
  return execa('bash', [SETUP, '--no-image', ...args], {
    reject: false,
    env: { PATH: `${join(dir, 'bin')}:${process.env.PATH}` },
  })
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'virtuoso-setup-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('scripts/setup.sh', () => {
  it('without root or sudo prints the exact apt-get line and exits 2', async () => {
    const r = await run(['rsync', 'cpio'], 'none')
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toContain('missing Debian packages: cpio rsync')
    expect(r.stderr).toContain('apt-get install -y --no-install-recommends cpio rsync')
  })

  it('with sudo installs only the missing packages and says so', async () => {
    await rm(join(dir, 'sudo.log'), { force: true })
    const r = await run(['rsync'], 'works')
    expect(r.exitCode).toBe(0)
    expect(r.stderr).toContain('installing rsync (through sudo')
    const calls = (await readFile(join(dir, 'sudo.log'), 'utf8')).trim().split('\n')
    expect(calls[0]).toBe('apt-get update -q')
    expect(calls[1]).toMatch(/apt-get install -y -q --no-install-recommends rsync$/)
  })

  it('--check reports and installs nothing, even with sudo', async () => {
    await rm(join(dir, 'sudo.log'), { force: true })
    const r = await run(['qemu-utils'], 'works', ['--check'])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toContain('apt-get install -y --no-install-recommends qemu-utils')
    await expect(readFile(join(dir, 'sudo.log'), 'utf8')).rejects.toMatchObject({ code: 'ENOENT' })
  })
})
