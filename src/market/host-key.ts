// A machine's SSH host key, made by the market once: it goes into the guest at every boot (the
// first-boot seed), so the buyer's `virtuoso ssh` can pin it with no first-use prompt, and a
// migrated machine keeps it. The hub holding it adds no power: it already grants the console.
import { newEd25519Key } from '../ssh-key.ts'

export function newHostKey(vmId: string): { public: string; private: string } {
  const k = newEd25519Key(vmId)
  return { public: k.public.split(' ').slice(0, 2).join(' '), private: k.private }
}
