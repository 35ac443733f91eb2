// The guest's root password from the console password (issue 12, report §6.1.8): a SHA-512 crypt(3)
// hash ($6$), the form chpasswd, usermod -p and cloud-init's NoCloud `chpasswd` take, made by
// `openssl passwd -6` with the password on its stdin (never in an argument list another user can
// read in /proc). Node has no crypt(3); OpenSSL (Debian's openssl package, in scripts/setup.sh) does.
import { execFile } from 'node:child_process'
import { ConsoleError, CONSOLE_PASSWORD } from './errors.ts'

const CRYPT6 = /^\$6\$[./A-Za-z0-9]{1,16}\$[./A-Za-z0-9]{86}$/

export function sha512Crypt(password: string, openssl = 'openssl'): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(openssl, ['passwd', '-6', '-stdin'], { timeout: 10_000 }, (err, out, stderr) => {
      const hash = String(out).trim()
      if (!err && CRYPT6.test(hash)) return resolve(hash)
      const why = (stderr || err?.message || 'no hash printed').trim().split('\n').pop()
      reject(
        new ConsoleError(
          CONSOLE_PASSWORD,
          `cannot hash the guest's root password (${openssl}: ${why}); install Debian's openssl package`,
          { cause: err },
        ),
      )
    })
    // openssl -stdin reads one line: a password holding a newline would be cut there.
    child.stdin?.end(password.replace(/[\r\n].*$/s, '') + '\n')
  })
}
