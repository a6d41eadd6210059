// @chainsafe/libp2p-yamux (libp2p 3 API) over a plain net.Socket, for the yamux bench baseline.
import type { Socket } from 'node:net'
import { once } from 'node:events'
import { yamux } from '@chainsafe/libp2p-yamux'
import { AbstractMultiaddrConnection } from '@libp2p/utils'
import { logger } from '@libp2p/logger'
import { multiaddr } from '@multiformats/multiaddr'
import '../with-resolvers.ts'

class SocketConnection extends AbstractMultiaddrConnection {
  private readonly socket: Socket

  constructor(socket: Socket, direction: 'inbound' | 'outbound') {
    super({
      remoteAddr: multiaddr(`/ip4/127.0.0.1/tcp/${socket.remotePort ?? 0}`),
      direction,
      log: logger('bench:yamux:libp2p'),
      inactivityTimeout: 0,
    })
    this.socket = socket
    socket.on('data', (buf) => this.onData(buf))
    socket.on('error', (err) => this.abort(err))
    socket.once('close', () => this.onTransportClosed())
    socket.on('drain', () => this.safeDispatchEvent('drain'))
  }

  sendData(data: Parameters<AbstractMultiaddrConnection['sendData']>[0]): { sentBytes: number; canSendMore: boolean } {
    let sentBytes = 0
    let canSendMore = true
    for (const buf of data) {
      sentBytes += buf.byteLength
      canSendMore = this.socket.write(buf)
      if (!canSendMore) break
    }
    return { sentBytes, canSendMore }
  }

  async sendClose(): Promise<void> {
    if (this.socket.destroyed) return
    this.socket.destroySoon()
    await once(this.socket, 'close')
  }

  sendReset(): void {
    this.socket.destroy()
  }

  sendPause(): void {
    this.socket.pause()
  }

  sendResume(): void {
    this.socket.resume()
  }
}

/** A libp2p-yamux muxer on `socket` (client = outbound). */
export function libp2pMuxer(socket: Socket, role: 'client' | 'server') {
  const factory = yamux({ enableKeepAlive: false })()
  return factory.createStreamMuxer(new SocketConnection(socket, role === 'client' ? 'outbound' : 'inbound'))
}
