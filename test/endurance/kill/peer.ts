/**
 * A peer that dies at a chosen phase of a tentacle connection, for the kill
 * tests (kill.test.ts). It drives the layers itself (secio, yamux, protocol
 * selection by hand) so that it can stop exactly at a step, then SIGKILLs
 * itself: no handler runs, the kernel closes its sockets as for `kill -9`.
 *
 *   peer.ts dial PORT PHASE | listen PHASE
 *
 * A listener prints `LISTENING <port> <peer-id>` first. Before dying it prints
 * `PHASE <phase>` once the bytes of that phase were handed to the kernel.
 * Phases, in connection order:
 *   tcp       TCP connected (dialer) or accepted (listener); nothing sent
 *   propose   our secio Propose sent (§3.1 step 1); nothing else
 *   exchange  the peer's Propose read, our Exchange sent (§3.1 step 2)
 *   nonce     the peer's Exchange verified, our nonce echo sent (§3.1 step 3)
 *   secio-frame  handshake done, then the length and half of a secio record
 *   select    dialer: yamux stream opened, our ProtocolInfo sent, no reply read;
 *             listener: the peer's ProtocolInfo read, no reply (§9.2)
 *   message   selection done, then half of a 1000-byte protocol message (§10.1)
 *   idle      selection done, nothing more: it prints `PHASE idle` and waits,
 *             alive, for the test's SIGKILL
 */
import net from 'node:net'
import { writeSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { SecioKeyPair, ProposeCodec, encodePublicKey, handshake } from '@tentacle-ts/secio'
import { Session, type Stream } from '@tentacle-ts/yamux'
import { encodeFrame, LengthDelimitedDecoder } from '@tentacle-ts/codec'
import { encodeProtocolInfo } from '@tentacle-ts/tentacle'

const [role, a1, a2] = process.argv.slice(2)
const phase = role === 'dial' ? a2! : a1!
const key = SecioKeyPair.generate()

/** Says where it is and dies at once (the socket writes before this already reached the kernel). */
function die(at: string): void {
  writeSync(1, `PHASE ${at}\n`)
  process.kill(process.pid, 'SIGKILL')
}

/** Open and quiet: says so and stays alive until the test kills it. */
function idle(): void {
  writeSync(1, 'PHASE idle\n')
}

function writeThenDie(socket: { write(b: Uint8Array, cb: () => void): unknown }, bytes: Uint8Array, at: string): void {
  socket.write(bytes, () => die(at))
}

async function readFrame(stream: Stream): Promise<Uint8Array> {
  const dec = new LengthDelimitedDecoder(64 * 1024)
  for (;;) {
    const f = dec.next()
    if (f !== null) return f
    const c = await stream.read()
    if (c === null) throw new Error('EOF during selection')
    dec.push(c)
  }
}

async function run(socket: net.Socket): Promise<void> {
  if (phase === 'tcp') return die('tcp')
  if (phase === 'propose') {
    const propose = ProposeCodec.encode({
      rand: randomBytes(16),
      pubkey: encodePublicKey(key.publicKey),
      exchanges: 'P-256,P-384,X25519',
      ciphers: 'AES-128-GCM,AES-256-GCM,CHACHA20_POLY1305',
      hashes: 'SHA256,SHA512',
    })
    return writeThenDie(socket, encodeFrame(propose), 'propose')
  }
  const { stream } = await handshake(socket, {
    key,
    onPhase: (done) => {
      // The Exchange (or the nonce echo) was written just before this call.
      if (phase === 'exchange' && done === 'awaiting-propose') die('exchange')
      if (phase === 'nonce' && done === 'awaiting-exchange') die('nonce')
    },
  })
  if (phase === 'secio-frame') {
    // The length of a 64-byte record and 32 bytes of it, straight on the socket (§3.12).
    return writeThenDie(socket, Buffer.concat([Buffer.from([0, 0, 0, 64]), randomBytes(32)]), 'secio-frame')
  }
  const mux = new Session(stream, { role: role === 'dial' ? 'client' : 'server', enableKeepalive: false })
  const info = encodeFrame(encodeProtocolInfo({ name: '/p2p/1', supportVersions: ['0.0.1'] }))
  const half = Buffer.concat([Buffer.from([0, 0, 0x03, 0xe8]), Buffer.alloc(500, 7)])
  if (role === 'dial') {
    const s = await mux.openStream()
    if (phase === 'select') return void s.write(info).then(() => setImmediate(() => die('select')))
    await s.write(info)
    await readFrame(s)
    if (phase === 'idle') return idle()
    await s.write(half)
    setImmediate(() => die('message'))
  } else {
    const s = await mux.accept()
    if (s === null) throw new Error('no stream')
    await readFrame(s)
    if (phase === 'select') return die('select')
    await s.write(info)
    if (phase === 'idle') return idle()
    await s.write(half)
    setImmediate(() => die('message'))
  }
}

const fail = (err: unknown): void => {
  console.error(`kill peer (${role} ${phase}): ${(err as Error).message}`)
  process.exit(1)
}
if (role === 'dial') {
  const socket = net.connect(Number(a1), '127.0.0.1', () => void run(socket).catch(fail))
  socket.on('error', fail)
} else {
  const server = net.createServer((socket) => {
    server.close()
    void run(socket).catch(fail)
  })
  server.listen(0, '127.0.0.1', () =>
    console.log(`LISTENING ${(server.address() as net.AddressInfo).port} ${key.peerId.toString()}`),
  )
}
setTimeout(() => process.exit(2), 30_000).unref()
