// The operator's door into a running hub: a unix socket in the hub's data dir, mode 0600, so only
// someone who can read that directory on the hub's own machine can credit accounts or move tables.
// Network clients never reach these methods. One JSON request per line, one JSON answer per line.
import { LineReader } from '../lines.ts'
import { createServer, createConnection, type Server } from 'node:net'
import { chmod, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { errorInfo, VirtuosoError } from '../errors.ts'
import { nodeError } from '../net/errors.ts'

export const ADMIN_SOCKET = 'admin.sock'

export type AdminHandler = (method: string, params: unknown) => Promise<unknown>

export async function serveAdmin(dir: string, handler: AdminHandler): Promise<Server> {
  const path = join(dir, ADMIN_SOCKET)
  await unlink(path).catch(() => {})
  const server = createServer((sock) => {
    const answer = async (line: string) => {
      let answer: unknown
      try {
        const req = JSON.parse(line)
        if (!req || typeof req.method !== 'string') throw nodeError.badFrame('expected {"method", "params"}')
        answer = { ok: true, result: await handler(req.method, req.params ?? {}) }
      } catch (err) {
        answer = { ok: false, error: errorInfo(err) }
      }
      sock.write(JSON.stringify(answer) + '\n')
    }
    // One request at a time, answered in order.
    let queue = Promise.resolve()
    const lines = new LineReader((line) => (queue = queue.then(() => answer(line))))
    sock.setEncoding('utf8')
    sock.on('error', () => {})
    sock.on('data', (chunk: string) => lines.push(chunk))
  })
  const old = process.umask(0o177) // the socket is born 0600: no window where others could connect
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(path, () => resolve())
    })
  } finally {
    process.umask(old)
  }
  await chmod(path, 0o600)
  return server
}

export async function callAdmin(dir: string, method: string, params: unknown = {}): Promise<any> {
  const path = join(dir, ADMIN_SOCKET)
  return new Promise((resolve, reject) => {
    const sock = createConnection(path)
    // The first line is the answer; the socket is closed then.
    let answered = false
    const lines = new LineReader((line) => {
      if (answered) return
      answered = true
      sock.end()
      try {
        const ans = JSON.parse(line)
        if (ans.ok) resolve(ans.result)
        else reject(new VirtuosoError(ans.error.code, ans.error.message))
      } catch {
        reject(nodeError.badFrame('the admin socket answered something that is not JSON'))
      }
    })
    sock.setEncoding('utf8')
    sock.on('error', (err: any) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED')
        reject(nodeError.unreachable(`the hub's admin socket ${path} (is the hub running with --data ${dir}?)`, err))
      else if (err.code === 'EACCES')
        reject(nodeError.forbidden(`no permission on ${path}: run as the user that runs the hub`))
      else reject(err)
    })
    sock.on('connect', () => sock.write(JSON.stringify({ method, params }) + '\n'))
    sock.on('data', (chunk: string) => lines.push(chunk))
  })
}
