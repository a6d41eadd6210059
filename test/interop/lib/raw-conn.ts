/**
 * A raw TCP connection for byte-level probes of a driver (what exactly does
 * the real peer send?): buffered reads of exact sizes with bounded waits.
 */
import net from 'node:net'
import { DEFAULT_WAIT_MS } from './peer-process.js'

export class RawConn {
  private readonly socket: net.Socket
  private buffered: Buffer[] = []
  private bufferedLen = 0
  private ended = false
  private failure: Error | undefined
  private wake: (() => void) | undefined

  private constructor(socket: net.Socket) {
    this.socket = socket
    socket.on('data', (d: Buffer) => {
      this.buffered.push(d)
      this.bufferedLen += d.length
      this.wake?.()
    })
    socket.on('end', () => {
      this.ended = true
      this.wake?.()
    })
    socket.on('close', () => {
      this.ended = true
      this.wake?.()
    })
    socket.on('error', (err) => {
      this.failure = err
      this.wake?.()
    })
  }

  /** Connect to 127.0.0.1:port. */
  static connect(port: number, timeoutMs = DEFAULT_WAIT_MS): Promise<RawConn> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1')
      const timer = setTimeout(() => {
        socket.destroy()
        reject(new Error(`connect to ${port}: timeout`))
      }, timeoutMs)
      socket.once('connect', () => {
        clearTimeout(timer)
        socket.removeAllListeners('error')
        resolve(new RawConn(socket))
      })
      socket.once('error', (err) => {
        clearTimeout(timer)
        reject(err)
      })
    })
  }

  /** Bytes received and not yet read. */
  get available(): number {
    return this.bufferedLen
  }

  /** True once the peer closed its side (EOF) or the socket closed. */
  get closed(): boolean {
    return this.ended
  }

  write(data: Uint8Array): void {
    this.socket.write(data)
  }

  /** Exactly n bytes; rejects on EOF, error or timeout. */
  async read(n: number, timeoutMs = DEFAULT_WAIT_MS): Promise<Buffer> {
    await this.until(() => this.bufferedLen >= n, timeoutMs, `${n} bytes`)
    const all = Buffer.concat(this.buffered)
    this.buffered = all.length > n ? [all.subarray(n)] : []
    this.bufferedLen = all.length - n
    return all.subarray(0, n)
  }

  /** Resolves once the peer has closed the connection (EOF); rejects on timeout. */
  async waitClosed(timeoutMs = DEFAULT_WAIT_MS): Promise<void> {
    await this.until(() => this.ended, timeoutMs, 'the peer to close', true)
  }

  /** Wait `ms` and return whatever arrived meanwhile (empty if nothing did). */
  async collect(ms: number): Promise<Buffer> {
    await new Promise<void>((resolve) => setTimeout(resolve, ms))
    const all = Buffer.concat(this.buffered)
    this.buffered = []
    this.bufferedLen = 0
    return all
  }

  private until(cond: () => boolean, timeoutMs: number, what: string, eofOk = false): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const check = (): boolean => {
        if (cond()) return finish()
        if (this.failure !== undefined && !eofOk) return finish(this.failure)
        if (this.ended && !eofOk)
          return finish(new Error(`EOF while waiting for ${what} (${this.bufferedLen} bytes buffered)`))
        return false
      }
      const finish = (err?: Error): true => {
        clearTimeout(timer)
        this.wake = undefined
        if (err === undefined) resolve()
        else reject(err)
        return true
      }
      const timer = setTimeout(
        () =>
          finish(new Error(`timeout after ${timeoutMs} ms waiting for ${what} (${this.bufferedLen} bytes buffered)`)),
        timeoutMs,
      )
      if (!check()) this.wake = () => void check()
    })
  }

  /** Destroy the socket (idempotent). */
  close(): void {
    this.socket.destroy()
  }
}
