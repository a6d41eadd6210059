// Shared helpers for the secio tests: loopback socket pairs, deadlines, hex.
import net from 'node:net'
import { once } from 'node:events'
import type { Duplex } from 'node:stream'

export const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex')
export const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

/** A connected TCP pair on 127.0.0.1 (client = dialer, server = accepted socket). */
export async function tcpPair(): Promise<{ client: net.Socket; server: net.Socket; close: () => void }> {
  const listener = net.createServer()
  listener.listen(0, '127.0.0.1')
  await once(listener, 'listening')
  const port = (listener.address() as net.AddressInfo).port
  const accepted = once(listener, 'connection') as Promise<[net.Socket]>
  const client = net.connect(port, '127.0.0.1')
  const [[server]] = await Promise.all([accepted, once(client, 'connect')])
  listener.close()
  return {
    client,
    server,
    close: () => {
      client.destroy()
      server.destroy()
    },
  }
}

/** A listening server on 127.0.0.1 that hands each socket to `onSocket`. */
export async function listen(
  onSocket: (s: net.Socket) => void,
): Promise<{ port: number; server: net.Server; close: () => Promise<void> }> {
  const server = net.createServer(onSocket)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    port: (server.address() as net.AddressInfo).port,
    server,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

/** Rejects if `p` takes longer than `ms` (keeps a hung test from hanging the file). */
export async function within<T>(ms: number, p: Promise<T>, what = 'operation'): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}

/** Resolves once `stream` has emitted 'close' (at once if it already has). */
export function closed(stream: Duplex): Promise<void> {
  return stream.closed ? Promise.resolve() : once(stream, 'close').then(() => undefined)
}

/** Reads until `n` bytes arrived on `stream`; resolves with them. */
export function readBytes(stream: Duplex, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = []
    let got = 0
    const onData = (c: Buffer): void => {
      parts.push(c)
      got += c.length
      if (got >= n) {
        cleanup()
        resolve(Buffer.concat(parts))
      }
    }
    const onEnd = (): void => {
      cleanup()
      reject(new Error(`stream ended after ${got} of ${n} bytes`))
    }
    const onError = (e: Error): void => {
      cleanup()
      reject(e)
    }
    const cleanup = (): void => {
      stream.off('data', onData)
      stream.off('end', onEnd)
      stream.off('error', onError)
    }
    stream.on('data', onData)
    stream.on('end', onEnd)
    stream.on('error', onError)
  })
}

/** Splits a byte string into its length-delimited frames (§2.1). */
export function splitFrames(wire: Buffer): Buffer[] {
  const out: Buffer[] = []
  let at = 0
  while (at + 4 <= wire.length) {
    const n = wire.readUInt32BE(at)
    if (at + 4 + n > wire.length) break
    out.push(wire.subarray(at, at + 4 + n))
    at += 4 + n
  }
  return out
}

/** Deterministic pattern bytes, byte i = (i * 31 + 7) & 0xff (same as the interop drivers). */
export function pattern(n: number, offset = 0): Buffer {
  const b = Buffer.allocUnsafe(n)
  for (let i = 0; i < n; i++) b[i] = ((i + offset) * 31 + 7) & 0xff
  return b
}

/** Active handles other than stdio: for leak assertions after cleanup. */
export function activeHandleCount(): number {
  const types = process.getActiveResourcesInfo()
  return types.filter((t) => t !== 'TTYWrap' && t !== 'PipeWrap' && t !== 'FSReqCallback').length
}
