// `virtuoso node` runs with SERVICE_FLAGS, which Node takes only at start (not from NODE_OPTIONS, not
// at run time). Why: a node's heap is small (~10 MB live), so V8's first limit for a full collection is
// too (~25 MB), and moving a disk allocates a buffer per read or frame; then a full collection ran
// every ~15 MiB moved. Measured here on the destination of an SCP pull of a fully random 2 GiB disk:
// ~140 full collections and 7.2 s of CPU without; 1-2 and 4.5-5.3 s with. An RSYNC pull's two
// nodes spent 19.9 CPU ms per MiB without, 16.4 with (the raw transport: 13.3 and 12.6).
// Short CLI calls run without: any V8 flag makes Node refuse its own built-in code cache, ~20 ms each.
import { spawn } from 'node:child_process'

export const SERVICE_FLAGS = ['--initial-old-space-size=64']

/** Whether `args` (after `virtuoso`) start a node: the command that runs with SERVICE_FLAGS. */
export function startsNode(args) {
  return args[0] === 'node'
}

/** Whether `args` start a node, in a process Node started without SERVICE_FLAGS. */
export function needsServiceFlags(args, execArgv = process.execArgv) {
  return startsNode(args) && !SERVICE_FLAGS.every((f) => execArgv.includes(f))
}

/**
 * Runs `script args` again in a child with SERVICE_FLAGS and stands in for it: the signals that stop a
 * node (systemd's SIGTERM, a closed terminal's SIGHUP, Ctrl-C) are passed on, since a node takes the
 * same signal twice as once; its exit code or signal becomes this process's. If this process dies
 * first (SIGKILL), the IPC channel closes and the node shuts down (processes.ts).
 */
export function relaunchWithServiceFlags(script, args) {
  const child = spawn(process.execPath, [...SERVICE_FLAGS, ...process.execArgv, script, ...args], {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, VIRTUOSO_SERVICE_CHILD: '1' },
  })
  const signals = ['SIGTERM', 'SIGINT', 'SIGHUP']
  for (const sig of signals) process.on(sig, () => child.kill(sig))
  child.on('error', (err) => {
    process.stderr.write(`virtuoso: could not start the node: ${err.message}\n`)
    process.exit(1)
  })
  child.on('exit', (code, signal) => {
    if (code !== null) process.exit(code)
    for (const sig of signals) process.removeAllListeners(sig)
    process.kill(process.pid, signal ?? 'SIGTERM')
  })
}
