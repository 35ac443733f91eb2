// Minimal typings for sodium-native (it ships none): only the calls the console tickets use.
// It is CommonJS: import its default export (Node's ESM loader does not see every named export).
declare module 'sodium-native' {
  const sodium: {
    crypto_sign_BYTES: number
    crypto_sign_PUBLICKEYBYTES: number
    crypto_sign_SECRETKEYBYTES: number
    crypto_sign_detached(sig: Buffer, message: Buffer, secretKey: Buffer): void
    crypto_sign_verify_detached(sig: Buffer, message: Buffer, publicKey: Buffer): boolean
    randombytes_buf(buf: Buffer): void
  }
  export default sodium
}
