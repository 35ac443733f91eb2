// Minimal typings for sodium-native (it ships none): only the calls the console tickets use.
declare module 'sodium-native' {
  export const crypto_sign_BYTES: number
  export const crypto_sign_PUBLICKEYBYTES: number
  export const crypto_sign_SECRETKEYBYTES: number
  export function crypto_sign_detached(sig: Buffer, message: Buffer, secretKey: Buffer): void
  export function crypto_sign_verify_detached(sig: Buffer, message: Buffer, publicKey: Buffer): boolean
  export function randombytes_buf(buf: Buffer): void
}
