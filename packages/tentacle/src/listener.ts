import * as net from 'node:net'
import { TentacleError } from './errors.js'

/**
 * What a listener counted. Every accepted socket ends up in exactly one of
 * `handedOff`, `closedBeforeHandled`, `rejected` or `handlerErrors`, so
 * `accepted === handedOff + closedBeforeHandled + rejectedTotal + handlerErrors`.
 */
export interface ListenerStats {
  /** Sockets the kernel handed us ('connection' events). */
  accepted: number
  /** Sockets passed on to the session layer. */
  handedOff: number
  /** Sockets already closed or reset by the peer when we got to them (no remote address). */
  closedBeforeHandled: number
  /** Sockets closed at once because a limit said so, by reason code. */
  rejected: Map<string, number>
  /** Sockets whose hand-off threw (a bug upstream); closed, accepting went on. */
  handlerErrors: number
  /** accept(2) failures (EMFILE, ENFILE, ENOBUFS, ...), by errno code. Accepting goes on. */
  acceptErrors: Map<string, number>
}

export interface AcceptedSocket {
  socket: net.Socket
  remoteAddress: string
  remotePort: number
}

export interface ListenerOptions {
  host: string
  port: number
  /** listen(2) backlog. */
  backlog: number
  /**
   * Asked synchronously for each accepted socket before hand-off: return a
   * reason code to close it at once (over a limit), or undefined to admit it.
   */
  admit: () => string | undefined
  /** Takes ownership of an admitted socket. Must not throw; if it does, the socket is closed. */
  onSocket: (accepted: AcceptedSocket) => void
  /** Told about accept(2) errors (the listener keeps accepting). */
  onAcceptError?: (err: NodeJS.ErrnoException) => void
}

/**
 * A TCP listener that never stops accepting because of one connection
 * (ARCHITECTURE rule 1, tentacle #333): a socket that is closed or reset
 * before we handle it, a socket error, an accept(2) failure such as EMFILE,
 * or a limit being reached each close that one socket (or nothing) and are
 * counted; the accept loop goes on, so the kernel backlog never fills.
 */
export class TcpListener {
  readonly stats: ListenerStats = {
    accepted: 0,
    handedOff: 0,
    closedBeforeHandled: 0,
    rejected: new Map(),
    handlerErrors: 0,
    acceptErrors: new Map(),
  }
  readonly #server: net.Server
  readonly #opts: ListenerOptions
  #listening = false

  constructor(opts: ListenerOptions) {
    this.#opts = opts
    // allowHalfOpen false: a peer's FIN ends our side too, so a socket never
    // sits in CLOSE_WAIT because nobody called end().
    this.#server = net.createServer({ allowHalfOpen: false, noDelay: true, pauseOnConnect: false })
    this.#server.on('connection', (socket) => this.#onConnection(socket))
    this.#server.on('error', (err: NodeJS.ErrnoException) => this.#onServerError(err))
  }

  /** Binds and listens; resolves with the bound address (port 0 resolved). */
  listen(): Promise<{ host: string; port: number; family: 4 | 6 }> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => {
        this.#server.off('listening', onListening)
        reject(
          new TentacleError(
            'TENTACLE_ERR_LISTEN_FAILED',
            `listen on ${this.#opts.host}:${this.#opts.port} failed: ${err.message}`,
            { cause: err },
          ),
        )
      }
      const onListening = (): void => {
        this.#server.off('error', onError)
        this.#listening = true
        const a = this.#server.address() as net.AddressInfo
        resolve({ host: a.address, port: a.port, family: a.family === 'IPv6' ? 6 : 4 })
      }
      this.#server.once('error', onError)
      this.#server.once('listening', onListening)
      this.#server.listen({
        host: this.#opts.host,
        port: this.#opts.port,
        backlog: this.#opts.backlog,
        exclusive: true,
      })
    })
  }

  get isListening(): boolean {
    return this.#listening
  }

  /**
   * Stops accepting and releases the port. Sockets already handed off are not
   * touched (their owner closes them); net.Server's own close callback would
   * wait for them, so we do not.
   */
  close(): Promise<void> {
    if (this.#listening || this.#server.listening) {
      this.#listening = false
      this.#server.close(() => {})
    }
    return Promise.resolve()
  }

  #onServerError(err: NodeJS.ErrnoException): void {
    if (!this.#listening) return // reported by listen()
    // Node emits accept(2) failures here (after libuv's EMFILE trick closed the
    // pending connection); the handle keeps listening. Count and go on.
    const code = err.code ?? 'UNKNOWN'
    this.stats.acceptErrors.set(code, (this.stats.acceptErrors.get(code) ?? 0) + 1)
    try {
      this.#opts.onAcceptError?.(err)
    } catch {
      // A throwing observer must not stop accepting.
    }
  }

  #onConnection(socket: net.Socket): void {
    this.stats.accepted++
    // First thing: an 'error' listener, so a reset arriving at any later
    // point can never become an uncaught exception.
    socket.on('error', swallow)
    try {
      const remoteAddress = socket.remoteAddress
      const remotePort = socket.remotePort
      if (remoteAddress === undefined || remotePort === undefined || socket.destroyed) {
        // The peer closed or reset before we got here (tentacle #333: peer_addr() failed).
        this.stats.closedBeforeHandled++
        socket.destroy()
        return
      }
      const reason = this.#opts.admit()
      if (reason !== undefined) {
        this.stats.rejected.set(reason, (this.stats.rejected.get(reason) ?? 0) + 1)
        // Over a limit: close at once rather than stop accepting (rule 1).
        // RST: no TIME_WAIT here, and the peer learns immediately.
        socket.resetAndDestroy()
        return
      }
      this.#opts.onSocket({ socket, remoteAddress, remotePort })
      this.stats.handedOff++
    } catch {
      this.stats.handlerErrors++
      socket.destroy()
    }
  }
}

function swallow(): void {
  // Socket errors before hand-off are expected (ECONNRESET on a socket the
  // peer already dropped); the owner attaches its own listener after hand-off.
}
