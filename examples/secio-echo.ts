// A secio echo server and client that talk to tentacle's own `secio_simple`
// example (spec §14): the server listens on 127.0.0.1:1337 and echoes; the
// client sends "hello world" and prints the echo.
//
//   node --conditions=source --import tsx examples/secio-echo.ts server [port] [--key FILE]
//   node --conditions=source --import tsx examples/secio-echo.ts client [port] [--peer QmID]
//
// --key FILE loads (or creates, mode 0600) a hex secp256k1 key file so the
// server keeps its peer id across runs; --peer makes the client insist on it.
import net from 'node:net'
import { once } from 'node:events'
import { access } from 'node:fs/promises'
import { handshake, PeerId, SecioKeyPair } from '@tentacle-ts/secio'

const [mode = 'server', ...rest] = process.argv.slice(2)
const flag = (name: string): string | undefined => {
  const i = rest.indexOf(name)
  return i >= 0 ? rest[i + 1] : undefined
}
const port = Number(rest.find((a) => /^\d+$/.test(a)) ?? 1337)

async function loadKey(): Promise<SecioKeyPair> {
  const file = flag('--key')
  if (file === undefined) return SecioKeyPair.generate()
  try {
    await access(file)
  } catch {
    // No key file yet: create one. A file that exists but does not load is an error, not replaced.
    const key = SecioKeyPair.generate()
    await key.save(file)
    return key
  }
  return SecioKeyPair.load(file)
}

const key = await loadKey()

if (mode === 'server') {
  const server = net.createServer(async (socket) => {
    const peer = `${socket.remoteAddress}:${socket.remotePort}`
    try {
      const { stream, remotePeerId, suite } = await handshake(socket, { key })
      console.log(`${peer} is ${remotePeerId.toString()} (${suite.agreement}, ${suite.cipher}, ${suite.digest})`)
      stream.on('error', (err) => console.log(`${peer}: ${err.message}`))
      stream.pipe(stream)
    } catch (err) {
      console.log(
        `${peer}: handshake failed: ${(err as Error & { code?: string }).code ?? ''} ${(err as Error).message}`,
      )
    }
  })
  server.listen(port, '127.0.0.1', () => console.log(`listening on 127.0.0.1:${port} as ${key.peerId.toString()}`))
} else if (mode === 'client') {
  const peer = flag('--peer')
  const socket = net.connect(port, '127.0.0.1')
  const { stream, remotePeerId } = await handshake(socket, {
    key,
    expectedPeerId: peer === undefined ? undefined : PeerId.parse(peer),
  })
  console.log(`connected to ${remotePeerId.toString()}`)
  stream.write('hello world')
  let echo = ''
  while (echo.length < 11) echo += ((await once(stream, 'data')) as [Buffer])[0].toString()
  console.log(`echo: ${echo}`)
  stream.destroy()
} else {
  console.error('usage: secio-echo.ts server|client [port] [--key FILE] [--peer QmID]')
  process.exit(2)
}
