// The screen of a running machine (QEMU VGA), beside its serial console:
//   `virtuoso screenshot VMID out.png`  writes the current screen as PNG
//   `virtuoso vnc VMID [--port N]`      a VNC port on 127.0.0.1 for any VNC viewer, until Ctrl-C
// Both show the hub's console ticket to the provider over console@1, so only the owner of a running
// machine gets its screen; one VNC viewer at a time (a second one takes over). VNC also asks for the
// machine's console password (report §6.1.8), checked by the provider once at the start and again
// for every viewer.
import type { Argv } from 'yargs'
import { writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import type { GlobalArgs } from './options.ts'
import { fail, print } from './output.ts'
import { withHub } from './console-commands.ts'
import type { TicketAnswer } from '../console/hub.ts'
import { checkScreenPassword, screenshot, VncPort } from '../console/display-client.ts'
import { readPassword } from './password.ts'
import { readFile } from 'node:fs/promises'
import { usage } from './errors.ts'

type Args = GlobalArgs & Record<string, any>

export function screenCommands(y: Argv): Argv {
  return y
    .command(
      'screenshot <vmid> <file>',
      "write a running machine's screen to FILE as PNG",
      (a) => a.positional('vmid', { type: 'string' }).positional('file', { type: 'string' }),
      async (argv) => {
        const a = argv as unknown as Args
        try {
          await withHub(a, async (client, dht) => {
            const png = await screenshot(dht, await client.call<TicketAnswer>('console.ticket', { vmId: a.vmid }))
            const file = resolve(a.file)
            await writeFile(file, png)
            print(!!a.json, { file, bytes: png.length }, () => `wrote ${file} (${png.length} bytes)`)
          })
        } catch (err) {
          fail(err, !!a.json)
        }
      },
    )
    .command(
      'vnc <vmid>',
      "serve a running machine's screen to VNC viewers on 127.0.0.1 (Ctrl-C ends)",
      (a) =>
        a
          .positional('vmid', { type: 'string' })
          .option('port', { type: 'number', default: 0, describe: 'local port (0: any free one)' })
          .option('password-stdin', {
            type: 'boolean',
            default: false,
            describe: "read the machine's console password from the first line of stdin",
          })
          .option('password-file', {
            type: 'string',
            describe: "read the machine's console password from the first line of FILE",
          }),
      async (argv) => {
        const a = argv as unknown as Args
        try {
          const password = await screenPassword(a)
          await withHub(a, async (client, dht) => {
            // Checked once now, so a wrong id, a stopped machine or a wrong password fails here and not
            // in the viewer.
            await checkScreenPassword(
              dht,
              await client.call<TicketAnswer>('console.ticket', { vmId: a.vmid }),
              password,
            )
            const port = new VncPort({
              dht,
              password,
              port: a.port,
              ticket: () => client.call<TicketAnswer>('console.ticket', { vmId: a.vmid }),
              onEnd: (end) => process.stderr.write(`vnc: viewer session ended: ${end.message}\n`),
              onError: (err) => process.stderr.write(`vnc: ${(err as Error).message}\n`),
            })
            const p = await port.listen()
            print(
              !!a.json,
              { vmId: a.vmid, host: '127.0.0.1', port: p },
              () => `VNC screen of ${a.vmid} on 127.0.0.1:${p} (e.g. vncviewer 127.0.0.1::${p}); Ctrl-C ends`,
            )
            await new Promise<void>((done) => {
              process.once('SIGINT', done)
              process.once('SIGTERM', done)
            })
            await port.close()
          })
        } catch (err) {
          fail(err, !!a.json)
        }
      },
    )
}

/** A logged-in market client and the DHT node it uses (the provider is dialed on the same node). */

/** The console password for `vnc`: --password-file, --password-stdin, or asked with echo off. */
async function screenPassword(a: Args): Promise<string> {
  if (a.passwordFile) {
    const text = await readFile(resolve(a.passwordFile), 'utf8').catch((err: Error) => {
      throw usage(`cannot read the password file ${a.passwordFile}: ${err.message}`)
    })
    return text.split(/\r?\n/)[0]
  }
  return readPassword({ stdin: !!a.passwordStdin, prompt: `Console password of ${a.vmid}: ` })
}
