// Minimal typings for the Holepunch modules we use (they ship none). Only what our code touches.
declare module 'hyperdht' {
  import type { EventEmitter } from 'node:events'
  import type { Duplex } from 'node:stream'
  export interface KeyPair {
    publicKey: Buffer
    secretKey: Buffer
  }
  export interface NoiseSocket extends Duplex {
    remotePublicKey: Buffer
    publicKey: Buffer
    rawStream?: unknown
    setKeepAlive(ms: number): void
  }
  export interface Server extends EventEmitter {
    listen(keyPair: KeyPair): Promise<void>
    close(): Promise<void>
    address(): { host: string; port: number; publicKey: Buffer } | null
    publicKey: Buffer
  }
  export interface DHTOptions {
    bootstrap?: Array<{ host: string; port: number } | string>
    host?: string
    port?: number
    ephemeral?: boolean
    firewalled?: boolean
    keyPair?: KeyPair
  }
  export default class DHT extends EventEmitter {
    constructor(opts?: DHTOptions)
    static keyPair(seed?: Buffer): KeyPair
    static bootstrapper(port: number, host: string, opts?: DHTOptions): DHT
    fullyBootstrapped(): Promise<void>
    ready(): Promise<void>
    address(): { host: string; port: number }
    createServer(opts?: object | ((socket: NoiseSocket) => void), onconnection?: (socket: NoiseSocket) => void): Server
    connect(publicKey: Buffer, opts?: { keyPair?: KeyPair }): NoiseSocket
    destroy(opts?: { force?: boolean }): Promise<void>
    destroyed: boolean
    listening: Set<Server>
    /** The key pair connect() proves when none is passed. */
    defaultKeyPair: KeyPair
  }
}

declare module 'hyperdht/testnet.js' {
  import DHT from 'hyperdht'
  export default function createTestnet(
    size?: number,
    opts?: object,
  ): Promise<{
    nodes: DHT[]
    bootstrap: Array<{ host: string; port: number }>
    createNode(opts?: object): DHT
    destroy(): Promise<void>
  }>
}

declare module 'protomux' {
  import type { Duplex } from 'node:stream'
  export interface Encoding<T = any> {
    preencode(state: any, m: T): void
    encode(state: any, m: T): void
    decode(state: any): T
  }
  export interface Message<T = any> {
    send(data: T): boolean
    onmessage: (data: T) => void
  }
  export interface Channel {
    userData: any
    opened: boolean
    closed: boolean
    /** False while the connection's write buffer is full (the last send returned false). */
    readonly drained: boolean
    open(handshake?: unknown): void
    close(): void
    fullyOpened(): Promise<boolean>
    addMessage<T>(opts: { encoding?: Encoding<T>; onmessage?: (data: T) => void }): Message<T>
    /** The messages added, in order (tests send through them to bypass a wrapper's checks). */
    readonly messages: Array<Message<any>>
    cork(): void
    uncork(): void
  }
  export default class Protomux {
    static from(stream: Duplex | Protomux, opts?: object): Protomux
    stream: Duplex
    createChannel(opts: {
      protocol: string
      id?: Buffer | null
      unique?: boolean
      handshake?: Encoding
      messages?: unknown[]
      onopen?: (handshake?: any) => void | Promise<void>
      onclose?: () => void | Promise<void>
      ondestroy?: () => void | Promise<void>
      /** The connection's write buffer emptied (after a send returned false). */
      ondrain?: () => void | Promise<void>
    }): Channel | null
    pair(opts: { protocol: string; id?: Buffer | null }, cb: (id: Buffer | null) => void): void
    unpair(opts: { protocol: string; id?: Buffer | null }): void
    opened(opts: { protocol: string; id?: Buffer | null }): boolean
  }
}

declare module 'compact-encoding' {
  const c: any
  export default c
}

declare module 'hyperswarm' {
  const Hyperswarm: any
  export default Hyperswarm
}

declare module '@hyperswarm/secret-stream' {
  import { Duplex } from 'node:stream'
  export default class SecretStream extends Duplex {
    constructor(isInitiator: boolean, rawStream?: Duplex, opts?: object)
    publicKey: Buffer
    remotePublicKey: Buffer
  }
}
