// Migration benchmark, one run, same files (1 GiB sparse-ish disk, ~30% allocated, loopback):
// RSYNC (ours, blocks@1 over HyperDHT) with 1% of 64 KiB blocks changed vs `rsync --inplace
// --no-whole-file` over OpenSSH; an unchanged cached machine; SCP (ours: OpenSSH with a one-time sshd, sparse, verified) vs OpenSSH `scp`.
// Our origin runs in a child process (test/bench/migration-origin.ts); OpenSSH runs as a throwaway sshd on 127.0.0.1 with its own host key and authorized key.
import createTestnet from 'hyperdht/testnet.js'
import Protomux from 'protomux'
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile, chmod, utimes } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { createConnection } from 'node:net'
import { rsyncPull } from '../../src/vmmp/methods/rsync.ts'
import { scpPull } from '../../src/vmmp/methods/scp.ts'
import { BLOCK_SIZE } from '../../src/vmmp/manifest.ts'
import { makeImage, touchBlocks } from '../vmmp/helpers.ts'
import { SERVICE_FLAGS } from '../../bin/service.js'
import { printTable, type BenchRow } from './table.ts'

const MiB = 1024 * 1024
const secs = (ms: number) => Math.round(ms) / 1000
const mb = (b: number) => Math.round((b / MiB) * 10) / 10

export async function startSshd(dir: string): Promise<{ port: number; key: string; proc: ChildProcess }> {
  const hostKey = join(dir, 'host_ed25519')
  const key = join(dir, 'client_ed25519')
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey])
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key])
  await writeFile(join(dir, 'authorized_keys'), execFileSync('cat', [`${key}.pub`]))
  await chmod(join(dir, 'authorized_keys'), 0o600)
  await mkdir('/run/sshd', { recursive: true }) // privilege-separation directory sshd insists on
  const port = 20000 + Math.floor(Math.random() * 20000)
  const cfg = join(dir, 'sshd_config')
  await writeFile(
    cfg,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      `PidFile ${join(dir, 'sshd.pid')}`,
      'Subsystem sftp internal-sftp',
      '',
    ].join('\n'),
  )
  const proc = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] })
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const s = createConnection(port, '127.0.0.1')
        .once('connect', () => {
          s.destroy()
          resolve(true)
        })
        .once('error', () => resolve(false))
    })
    if (up) return { port, key, proc }
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error('sshd did not start')
}

function timed(cmd: string, args: string[]): { ms: number; out: string } {
  const t = performance.now()
  const out = execFileSync(cmd, args, { maxBuffer: 64 * MiB }).toString()
  return { ms: performance.now() - t, out }
}

export async function migrationBench(
  opts: { size?: number; dataFraction?: number; changed?: number } = {},
): Promise<BenchRow[]> {
  const size = opts.size ?? 1024 * MiB
  const root = await mkdtemp(join(tmpdir(), 'vmmp-bench-'))
  const rows: BenchRow[] = []
  const testnet = await createTestnet(3)
  let sshd: ChildProcess | null = null
  let originProc: ChildProcess | null = null
  try {
    const origin = join(root, 'origin')
    await mkdir(origin)
    const img = join(origin, 'disk-flat.vmdk')
    await makeImage(img, size, opts.dataFraction ?? 0.3, 11)
    const allocated = Number(execFileSync('du', ['-B1', img]).toString().split('\t')[0])
    const ssh = await startSshd(root)
    sshd = ssh.proc
    const sshCmd = `ssh -p ${ssh.port} -i ${ssh.key} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR`

    // Our origin runs in its own process (as on a real provider): blocks@1 and the SCP shares.
    originProc = spawn(process.execPath, [...SERVICE_FLAGS, 'bin/run-ts.js', 'test/bench/migration-origin.ts'], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    const next = (type: string) =>
      new Promise<any>((resolve) => {
        const h = (m: any) => {
          if (m.type === type) {
            originProc!.off('message', h)
            resolve(m)
          }
        }
        originProc!.on('message', h)
      })
    originProc.send({ type: 'start', bootstrap: testnet.bootstrap })
    const ready = await next('ready')
    const originKey = Buffer.from(ready.key, 'hex')
    let version = 1
    let seq = 0
    const grant = async (id: string, scp = false) => {
      originProc!.send({
        type: 'grant',
        id,
        scp,
        auth: { vmId: 'vm', dir: origin, files: ['disk-flat.vmdk'], version },
      })
      return (await next('granted')).login
    }
    const pull = async (destDir: string) => {
      const id = `bench-${++seq}`
      await grant(id)
      const socket = testnet.createNode().connect(originKey)
      socket.on('error', () => {})
      const t = performance.now()
      const r = await rsyncPull({
        migrationId: id,
        src: { mux: Protomux.from(socket) },
        destDir,
        cacheVersion: version,
      })
      const ms = performance.now() - t
      socket.destroy()
      return { ms, r }
    }

    // Both destinations start from the same cached v1.
    const oursDir = join(root, 'dest-ours')
    const rsyncDir = join(root, 'dest-rsync')
    await mkdir(rsyncDir)
    const cold = await pull(oursDir)
    rows.push({
      name: 'RSYNC first copy (nothing cached)',
      value: secs(cold.ms),
      unit: 's',
      target: `${mb(allocated)} MiB allocated, ${mb(cold.r.bytesOnWire)} MiB on wire, ${Math.round(allocated / MiB / (cold.ms / 1000))} MiB/s`,
    })
    execFileSync('cp', ['--sparse=always', img, join(rsyncDir, 'disk-flat.vmdk')])
    // An older mtime, as a copy cached on an earlier visit has: otherwise rsync's size+mtime quick
    // check (1 s granularity) may skip the file and measure nothing.
    const hourAgo = new Date(Date.now() - 3600_000)
    await utimes(join(rsyncDir, 'disk-flat.vmdk'), hourAgo, hourAgo)

    // v2: 1% of the 64 KiB blocks rewritten in place, as a guest would.
    const changed = await touchBlocks(img, size, opts.changed ?? 0.01, 12)
    const changedBytes = changed.length * BLOCK_SIZE
    version = 2
    const delta = await pull(oursDir)
    const theirs = timed('rsync', [
      '--inplace',
      '--no-whole-file',
      '--stats',
      '-e',
      sshCmd,
      `root@127.0.0.1:${img}`,
      join(rsyncDir, 'disk-flat.vmdk'),
    ])
    if (process.env.VMMP_BENCH_DEBUG) console.log(theirs.out)
    const sent = Number(/Total bytes sent: ([\d,.]+)/.exec(theirs.out)?.[1].replace(/[,.]/g, '') ?? NaN)
    const recv = Number(/Total bytes received: ([\d,.]+)/.exec(theirs.out)?.[1].replace(/[,.]/g, '') ?? NaN)
    rows.push({
      name: 'RSYNC, 1% of blocks changed: time',
      value: secs(delta.ms),
      unit: 's',
      peer: secs(theirs.ms),
      peerName: 'rsync --inplace over ssh',
      target: '<= half of rsync',
    })
    rows.push({
      name: 'RSYNC, 1% changed: bytes on wire',
      value: mb(delta.r.bytesOnWire),
      unit: 'MiB',
      peer: mb(sent + recv),
      peerName: 'rsync --stats',
      target: `<= 1.1 x ${mb(changedBytes)} MiB changed + manifest`,
    })

    const same = await pull(oursDir)
    rows.push({
      name: 'RSYNC, unchanged cached machine',
      value: secs(same.ms),
      unit: 's',
      target: `< 0.5 s (${mb(same.r.bytesOnWire)} MiB on wire)`,
    })

    // SCP: ours (OpenSSH, one-time sshd, sparse-aware, verified) vs OpenSSH scp, both into an empty directory.
    const t = performance.now()
    const login = await grant('bench-scp', true)
    const ours = await scpPull({
      migrationId: 'bench-scp',
      src: {
        ssh: {
          ...{ host: '127.0.0.1', port: login.port, user: login.user, key: login.key },
          ...{ hostKey: ready.hostKey, fingerprint: ready.fingerprint },
        },
      },
      destDir: join(root, 'dest-scp'),
    })
    const oursMs = performance.now() - t
    await mkdir(join(root, 'dest-openssh'))
    const scp = timed('scp', [
      '-q',
      '-P',
      String(ssh.port),
      '-i',
      ssh.key,
      '-o',
      'StrictHostKeyChecking=no',
      '-o',
      'UserKnownHostsFile=/dev/null',
      '-o',
      'LogLevel=ERROR',
      `root@127.0.0.1:${img}`,
      join(root, 'dest-openssh', 'disk-flat.vmdk'),
    ])
    rows.push({
      name: 'SCP, 1 GiB disk, nothing cached',
      value: secs(oursMs),
      unit: 's',
      peer: secs(scp.ms),
      peerName: 'OpenSSH scp',
      target: `no slower than scp (${mb(ours.bytesOnWire)} MiB on wire vs ${mb(size)} MiB)`,
    })
  } finally {
    sshd?.kill('SIGTERM')
    originProc?.kill('SIGTERM')
    await testnet.destroy()
    await rm(root, { recursive: true, force: true })
  }
  return rows
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const rows = await migrationBench()
  printTable('migration (1 GiB disk, loopback)', rows)
  process.exit(0)
}
