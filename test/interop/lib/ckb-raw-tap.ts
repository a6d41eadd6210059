/**
 * A raw tap for CKB's base protocols: a tentacle-ts Service that registers
 * `/ckb/ping`, `/ckb/discovery`, `/ckb/identify`, `/ckb/flr` and
 * `/ckb/disconnectmsg` (ids 0..4, version "3") with plain recording
 * handlers, so a test sees the exact bytes a ckb-network node sends. It
 * implements none of the protocols; to keep a CKB node talking it only
 * plays back CKB's own bytes:
 * - identify: sends back the IdentifyMessage it received (same network name
 *   and flags, so CKB accepts it);
 * - discovery: sends back the GetNodes it received (so CKB answers Nodes);
 * - ping: answers a Ping with the same bytes with the union item id turned
 *   from 0 (Ping) to 1 (Pong) — byte 8 of the PingMessage table (§11) — or,
 *   with `badPong`, a Pong whose nonce is off by one.
 * It never uses @tentacle-ts/protocols, so the bytes it records are vectors
 * for that package's decoders, not products of them.
 */
import { SecioKeyPair } from '@tentacle-ts/secio'
import { Service, type ProtocolSessionContext, type ServiceErrorEvent, type ServiceEvent } from '@tentacle-ts/tentacle'

export const CKB_BASE_PROTOCOLS = [
  { id: 0, name: '/ckb/ping' },
  { id: 1, name: '/ckb/discovery' },
  { id: 2, name: '/ckb/identify' },
  { id: 3, name: '/ckb/flr' },
  { id: 4, name: '/ckb/disconnectmsg' },
] as const

export interface TapMessage {
  session: number
  /** The tap's view of the session: `outbound` = the tap dialed. */
  sessionDirection: 'inbound' | 'outbound'
  proto: number
  protoName: string
  /** `in`: the CKB node sent it to the tap; `out`: the tap sent it. */
  direction: 'in' | 'out'
  bytes: Uint8Array
  at: number
}

export interface TapOptions {
  /** Play back identify (default true). */
  echoIdentify?: boolean
  /** Play back GetNodes (default true). */
  echoGetNodes?: boolean
  /** Answer pings (default true). */
  answerPing?: boolean
  /** Answer pings with a wrong nonce (default false). */
  badPong?: boolean
  key?: SecioKeyPair
}

export interface TapProtocolEvent {
  session: number
  proto: number
  kind: 'open' | 'close'
  version?: string
  at: number
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
}

/** The union item id of a CKB PingMessage (0 Ping, 1 Pong), or -1 if it is not one. */
export function pingItemId(b: Uint8Array): number {
  if (b.length < 12) return -1
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(8, true)
}

/** The union item id of a CKB DiscoveryMessage (0 GetNodes, 1 Nodes), or -1. */
export const discoveryItemId = pingItemId

export class RawTap {
  readonly service: Service
  readonly messages: TapMessage[] = []
  readonly protocolEvents: TapProtocolEvent[] = []
  readonly serviceEvents: Array<ServiceEvent | ServiceErrorEvent> = []
  /** Reply policy; may be changed while running (e.g. `badPong`). */
  options: TapOptions
  private readonly wakers = new Set<() => void>()

  constructor(opts: TapOptions = {}) {
    this.options = opts
    const echoIdentify = opts.echoIdentify ?? true
    const echoGetNodes = opts.echoGetNodes ?? true
    const record = (ctx: ProtocolSessionContext, direction: 'in' | 'out', bytes: Uint8Array): void => {
      this.messages.push({
        session: ctx.session.id,
        sessionDirection: ctx.session.direction === 'outbound' ? 'outbound' : 'inbound',
        proto: ctx.protoId,
        protoName: CKB_BASE_PROTOCOLS[ctx.protoId]?.name ?? String(ctx.protoId),
        direction,
        bytes: Uint8Array.from(bytes),
        at: Date.now(),
      })
      this.wake()
    }
    const send = (ctx: ProtocolSessionContext, bytes: Uint8Array): void => {
      record(ctx, 'out', bytes)
      ctx.send(bytes)
    }
    this.service = new Service({
      key: opts.key ?? SecioKeyPair.generate(),
      protocols: CKB_BASE_PROTOCOLS.map((p) => ({
        id: p.id,
        name: p.name,
        versions: ['3'],
        handler: {
          connected: (ctx: ProtocolSessionContext, version: string) => {
            this.protocolEvents.push({
              session: ctx.session.id,
              proto: ctx.protoId,
              kind: 'open',
              version,
              at: Date.now(),
            })
            this.wake()
          },
          disconnected: (ctx: ProtocolSessionContext) => {
            this.protocolEvents.push({ session: ctx.session.id, proto: ctx.protoId, kind: 'close', at: Date.now() })
            this.wake()
          },
          received: (ctx: ProtocolSessionContext, data: Uint8Array) => {
            record(ctx, 'in', data)
            if (p.id === 2 && echoIdentify) send(ctx, data)
            if (p.id === 1 && echoGetNodes && discoveryItemId(data) === 0) send(ctx, data)
            if (p.id === 0 && (this.options.answerPing ?? true) && pingItemId(data) === 0) {
              const pong = Uint8Array.from(data)
              pong[8] = 1
              if (this.options.badPong === true) pong[pong.length - 4] = (pong[pong.length - 4]! + 1) & 0xff
              send(ctx, pong)
            }
          },
        },
      })),
      handler: {
        handleEvent: (e) => {
          this.serviceEvents.push(e)
          this.wake()
        },
        handleError: (e) => {
          this.serviceEvents.push(e)
          this.wake()
        },
      },
    })
  }

  private wake(): void {
    for (const w of [...this.wakers]) w()
  }

  /** Resolves when `pred()` holds; rejects after `ms`. */
  until(pred: () => boolean, ms: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      if (pred()) return resolve()
      const check = (): void => {
        if (!pred()) return
        clearTimeout(timer)
        this.wakers.delete(check)
        resolve()
      }
      const timer = setTimeout(() => {
        this.wakers.delete(check)
        const seen = this.messages.map((m) => `${m.direction}:${m.protoName}:${m.bytes.length}`).join(' ')
        reject(
          new Error(
            `tap: timed out (${ms} ms) waiting for ${what}; messages: ${seen}; events: ${this.serviceEvents.map((e) => e.type).join(',')}`,
          ),
        )
      }, ms)
      this.wakers.add(check)
    })
  }

  /** Waits for a message and returns it. */
  async message(pred: (m: TapMessage) => boolean, ms: number, what: string): Promise<TapMessage> {
    await this.until(() => this.messages.some(pred), ms, what)
    return this.messages.find(pred)!
  }

  /** Sends raw bytes on a protocol of a session, and records them. */
  send(session: number, proto: number, bytes: Uint8Array): void {
    const info = this.service.sessions().find((x) => x.id === session)
    this.messages.push({
      session,
      sessionDirection: info?.direction === 'outbound' ? 'outbound' : 'inbound',
      proto,
      protoName: CKB_BASE_PROTOCOLS[proto]?.name ?? String(proto),
      direction: 'out',
      bytes: Uint8Array.from(bytes),
      at: Date.now(),
    })
    this.service.send(session, proto, bytes)
  }

  async listen(): Promise<string> {
    const addr = await this.service.listen('/ip4/127.0.0.1/tcp/0')
    return `${addr.toString()}/p2p/${this.service.peerId}`
  }

  close(): Promise<void> {
    return this.service.close()
  }
}
