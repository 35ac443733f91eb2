// New ed25519 SSH keys in OpenSSH format. ssh2's generateKeyPairSync strips every leading zero byte of
// the public key (mscdex/ssh2#1390, #1513), so about one key in 256 comes out malformed: ssh2 itself
// then refuses it as a host key, and OpenSSH refuses the public half. Such a key is thrown away and
// another one made; after 32 bad ones in a row (odds 2^-256) something else is wrong, and we say so.
import ssh2 from 'ssh2'
import { VirtuosoError } from './errors.ts'

export interface SshKeyPair {
  /** OpenSSH private key file content. */
  private: string
  /** `ssh-ed25519 BASE64 [comment]`, as ssh2 makes it. */
  public: string
}

const ATTEMPTS = 32

export function newEd25519Key(comment?: string): SshKeyPair {
  for (let i = 0; i < ATTEMPTS; i++) {
    const k = ssh2.utils.generateKeyPairSync('ed25519', comment ? { comment } : {})
    if (!(ssh2.utils.parseKey(k.private) instanceof Error) && !(ssh2.utils.parseKey(k.public) instanceof Error))
      return { private: k.private, public: k.public }
  }
  throw new VirtuosoError('INTERNAL', `ssh2 made ${ATTEMPTS} unusable ed25519 keys in a row`)
}
