// `npm start`: two nodes on loopback do a secio handshake and an echo, then exit.
// Prints both peer ids, the negotiated suite and the handshake time.
import net from 'node:net'
import { once } from 'node:events'
import { handshake, SecioKeyPair } from '@tentacle-ts/secio'

const alice = SecioKeyPair.generate()
const bob = SecioKeyPair.generate()

// Bob listens and echoes whatever arrives over the encrypted stream.
const server = net.createServer(async (socket) => {
  try {
    const { stream } = await handshake(socket, { key: bob })
    stream.pipe(stream)
  } catch (err) {
    console.error('bob: handshake failed:', err)
    socket.destroy()
  }
})
server.listen(0, '127.0.0.1')
await once(server, 'listening')
const { port } = server.address() as net.AddressInfo

// Alice dials Bob and insists on talking to Bob's identity.
const socket = net.connect(port, '127.0.0.1')
const { stream, remotePeerId, suite, durationMs } = await handshake(socket, { key: alice, expectedPeerId: bob.peerId })

console.log(`alice  ${alice.peerId.toString()}`)
console.log(`bob    ${bob.peerId.toString()}`)
console.log(`alice sees ${remotePeerId.toString()} (expected bob: ${remotePeerId.equals(bob.peerId)})`)
console.log(`suite  ${suite.agreement} / ${suite.cipher} / ${suite.digest}`)
console.log(`handshake ${durationMs.toFixed(1)} ms`)

const message = Buffer.from('hello from alice, through secio')
stream.write(message)
const [echo] = (await once(stream, 'data')) as [Buffer]
console.log(`echo   "${echo.toString()}"`)

stream.end()
server.close()
