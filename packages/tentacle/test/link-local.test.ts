// A peer on a link-local IPv6 address: Node reports its remoteAddress with a
// zone ("fe80::1%eth0"), which a multiaddr cannot carry. Building the
// session address from it must not throw on the accept path (rule 1).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { networkInterfaces } from 'node:os'
import { once } from 'node:events'
import { socketMultiaddr } from '../src/index.js'
import { Node, isType } from './service-helpers.js'

/** A link-local IPv6 address of this host, with its zone, or undefined. */
function linkLocal(): { host: string; address: string } | undefined {
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.family === 'IPv6' && a.address.startsWith('fe80:') && a.scopeid !== undefined && a.scopeid > 0) {
        return { host: `${a.address}%${name}`, address: a.address }
      }
    }
  }
  return undefined
}

test('socketMultiaddr drops the zone of a scoped IPv6 address (as tentacle does)', () => {
  assert.equal(socketMultiaddr('fe80::1%eth0', 7).toString(), '/ip6/fe80::1/tcp/7')
  assert.equal(socketMultiaddr('fe80::1%2', 7).toString(), '/ip6/fe80::1/tcp/7')
  assert.equal(socketMultiaddr('::1', 7).toString(), '/ip6/::1/tcp/7')
})

test('a peer connecting from a link-local IPv6 address (remoteAddress with a %zone): plaintext session opens, failed secio handshake is reported, process survives', async (t) => {
  const ll = linkLocal()
  if (ll === undefined) return t.skip('no link-local IPv6 address on this host')
  const plain = new Node({ protocols: [{ id: 1 }], secio: false })
  const secure = new Node({ protocols: [{ id: 1 }], config: { timeoutMs: 2000 } })
  const sockets: net.Socket[] = []
  const dialFromLinkLocal = async (port: number): Promise<net.Socket> => {
    const s = net.connect({ host: ll.host, port })
    s.on('error', () => {})
    sockets.push(s)
    await once(s, 'connect')
    return s
  }
  try {
    const plainAddr = await plain.service.listen('/ip6/::/tcp/0')
    await dialFromLinkLocal(Number(plainAddr.getComponents()[1]?.value))
    const open = await plain.waitFor(isType('session-open'), 5000)
    assert.ok(open.type === 'session-open' && open.session.address.toString().startsWith(`/ip6/${ll.address}/tcp/`))

    const secureAddr = await secure.service.listen('/ip6/::/tcp/0')
    const garbage = await dialFromLinkLocal(Number(secureAddr.getComponents()[1]?.value))
    garbage.write(Buffer.from('00000010' + 'ff'.repeat(16), 'hex'))
    const failed = await secure.waitFor(isType('handshake-error'), 5000)
    assert.ok(failed.type === 'handshake-error' && failed.address.toString().startsWith(`/ip6/${ll.address}/tcp/`))
  } finally {
    for (const s of sockets) s.destroy()
    await Promise.all([plain, secure].map((n) => n.service.shutdown()))
  }
})
