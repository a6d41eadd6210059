// Message codecs (§11, CKB protocols.mol / extensions.mol) and binary
// multiaddrs (§5.3): byte vectors, CKB's decoding rules, and properties —
// round trips, and arbitrary or mutated bytes give a value or a ProtocolsError
// PROTOCOLS_ERR_MALFORMED_MESSAGE / PROTOCOLS_ERR_INVALID_MULTIADDR, never anything else.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  canonicalMultiaddr,
  decodeDiscoveryMessage,
  decodeIdentifyBlob,
  decodeIdentifyMessage,
  decodeMultiaddr,
  decodePingMessage,
  encodeDiscoveryMessage,
  encodeIdentifyBlob,
  encodeIdentifyMessage,
  encodeMultiaddr,
  encodePingMessage,
  ProtocolsError,
  type DiscoveryMessage,
} from '../src/index.js'

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'))
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const PEER = 'QmPNw5ZmLkgnBr69vL3CFw5hwyBqDcTPctUaYJJ9egVtSF' // secret key 1 (§5.1)
const PEER_HEX = '12200f715baf5d4c2ed329785cef29e562f73488c8a2bb9dbc5700b361d54b9b0554'

// Molecule built by hand (§6), independent of the codec under test.
const le32 = (n: number): string => Buffer.from(Uint32Array.of(n).buffer).toString('hex')
const u32 = le32
const u64 = (n: bigint): string => Buffer.from(BigUint64Array.of(n).buffer).toString('hex')
const fixvec = (bytesHex: string): string => le32(bytesHex.length / 2) + bytesHex
function table(fields: string[]): string {
  let off = 4 * (1 + fields.length)
  const offs = fields.map((f) => {
    const o = off
    off += f.length / 2
    return o
  })
  return le32(off) + offs.map(le32).join('') + fields.join('')
}
const dynvec = table
const union = (id: number, body: string): string => le32(id) + body
const utf8hex = (s: string): string => Buffer.from(s).toString('hex')
/** Plain-object form (fast-check records have a null prototype; bigints as text). */
const plain = (x: unknown): unknown => JSON.parse(JSON.stringify(x, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)))

function code(fn: () => unknown): string {
  try {
    fn()
  } catch (e) {
    assert.ok(e instanceof ProtocolsError, `expected ProtocolsError, got ${String(e)}`)
    return e.code
  }
  return 'no error'
}

describe('binary multiaddr (§5.3)', () => {
  test('ip4/tcp/p2p: codes, u16be port, varint length + 34-byte peer id', () => {
    const b = encodeMultiaddr(`/ip4/127.0.0.1/tcp/8115/p2p/${PEER}`)
    assert.equal(toHex(b), '047f000001' + '061fb3' + 'a50322' + PEER_HEX)
    assert.equal(decodeMultiaddr(b).text, `/ip4/127.0.0.1/tcp/8115/p2p/${PEER}`)
  })

  test('every protocol of the §5.3 table decodes to its text form', () => {
    const cases: Array<[string, string]> = [
      ['29' + '20010db8000000000000000000000001' + '060050', '/ip6/2001:db8::1/tcp/80'],
      ['36' + '09' + Buffer.from('localhost').toString('hex') + '0601bb', '/dns4/localhost/tcp/443'],
      ['37' + '03' + Buffer.from('a.b').toString('hex'), '/dns6/a.b'],
      ['047f000001' + '910204d2' + 'cd03', '/ip4/127.0.0.1/udp/1234/quic-v1'],
      ['047f000001' + '060050' + 'dd03', '/ip4/127.0.0.1/tcp/80/ws'],
      ['047f000001' + '060050' + 'de03', '/ip4/127.0.0.1/tcp/80/wss'],
      ['047f000001' + '060050' + 'c003' + '03' + Buffer.from('x.y').toString('hex'), '/ip4/127.0.0.1/tcp/80/tls/x.y'],
      ['8906' + '0000000000000007', '/memory/7'],
      ['bd03' + '00'.repeat(35) + '04d2', `/onion3/${'a'.repeat(56)}:1234`],
      ['', ''],
    ]
    for (const [h, text] of cases) assert.equal(decodeMultiaddr(hex(h)).text, text, h)
  })

  test('rejects what tentacle-multiaddr rejects', () => {
    const bad = [
      '05', // unknown protocol code
      '04' + '7f0000', // short ip4
      '06' + '00', // short port
      '80', // truncated varint
      '8400', // non-minimal varint (4 written in two bytes)
      'a503' + '22' + '1320' + '00'.repeat(32), // p2p multihash not sha2-256
      'a503' + '21' + PEER_HEX.slice(0, -2), // p2p of 33 bytes
      'a503' + '23' + PEER_HEX + '00', // p2p with a trailing byte
      '36' + '02' + 'c328', // dns4 not UTF-8
      '36' + '05' + '6161', // dns4 shorter than its length
      'ffffffffff0f', // protocol code past u32
    ]
    for (const h of bad)
      assert.equal(
        code(() => decodeMultiaddr(hex(h))),
        'PROTOCOLS_ERR_INVALID_MULTIADDR',
        h,
      )
    assert.equal(
      code(() => encodeMultiaddr('not a multiaddr')),
      'PROTOCOLS_ERR_INVALID_MULTIADDR',
    )
  })

  test('canonical text: ip6 compressed as RFC 5952', () => {
    assert.equal(canonicalMultiaddr('/ip6/0:0:0:0:0:0:0:1/tcp/1'), '/ip6/::1/tcp/1')
    assert.equal(canonicalMultiaddr('/ip6/fe80:0:0:0:1:0:0:1/tcp/1'), '/ip6/fe80::1:0:0:1/tcp/1')
  })

  test('property: arbitrary bytes give a multiaddr or PROTOCOLS_ERR_INVALID_MULTIADDR; decoded ones re-encode to the same bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        let text: string
        try {
          text = decodeMultiaddr(b).text
        } catch (e) {
          if (!(e instanceof ProtocolsError) || e.code !== 'PROTOCOLS_ERR_INVALID_MULTIADDR') throw e
          return
        }
        // What we decode and multiformats can parse must come back byte for byte.
        let again: Uint8Array
        try {
          again = encodeMultiaddr(text)
        } catch {
          return // multiformats refuses some texts (e.g. odd dns names); the decoder still accepted the bytes
        }
        assert.equal(toHex(again), toHex(b))
      }),
      { numRuns: 3000 },
    )
  })

  test('property: generated tcp addresses round-trip', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 0, max: 65535 }), fc.boolean(), (ip, port, p2p) => {
        const text = `/ip4/${ip}/tcp/${port}${p2p ? `/p2p/${PEER}` : ''}`
        assert.equal(decodeMultiaddr(encodeMultiaddr(text)).text, text)
      }),
      { numRuns: 500 },
    )
  })
})

describe('ping (§11.1)', () => {
  test('Ping and Pong with nonce 0x12345678 (§6.2)', () => {
    assert.equal(
      toHex(encodePingMessage({ type: 'ping', nonce: 0x12345678 })),
      '180000000800000000000000' + '0c0000000800000078563412',
    )
    assert.equal(
      toHex(encodePingMessage({ type: 'pong', nonce: 0x12345678 })),
      '180000000800000001000000' + '0c0000000800000078563412',
    )
    assert.deepEqual(decodePingMessage(hex('1800000008000000010000000c0000000800000078563412')), {
      type: 'pong',
      nonce: 0x12345678,
    })
  })

  test('malformed: unknown union id, short nonce, garbage → PROTOCOLS_ERR_MALFORMED_MESSAGE with the molecule cause', () => {
    for (const h of [
      '1800000008000000020000000c0000000800000078563412',
      '17000000080000000000000008000000080000007856',
      'deadbeef',
      '',
    ]) {
      assert.equal(
        code(() => decodePingMessage(hex(h))),
        'PROTOCOLS_ERR_MALFORMED_MESSAGE',
        h,
      )
    }
    try {
      decodePingMessage(hex('deadbeef'))
    } catch (e) {
      assert.equal((e as Error & { cause: { name: string } }).cause.name, 'MoleculeError')
    }
  })

  test('compatible mode: a Ping table with an extra field is accepted (as CKB from_compatible_slice)', () => {
    const extended = table([union(0, table([u32(0x12345678), fixvec('')]))])
    assert.deepEqual(decodePingMessage(hex(extended)), { type: 'ping', nonce: 0x12345678 })
  })

  test('property: round trip; arbitrary bytes decode or throw PROTOCOLS_ERR_MALFORMED_MESSAGE', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('ping' as const, 'pong' as const),
        fc.integer({ min: 0, max: 0xffffffff }),
        (type, nonce) => {
          assert.deepEqual(decodePingMessage(encodePingMessage({ type, nonce })), { type, nonce })
        },
      ),
    )
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        try {
          decodePingMessage(b)
        } catch (e) {
          if (!(e instanceof ProtocolsError) || e.code !== 'PROTOCOLS_ERR_MALFORMED_MESSAGE') throw e
        }
      }),
      { numRuns: 3000 },
    )
  })
})

const ADDR1 = `/ip4/1.2.3.4/tcp/8115/p2p/${PEER}`
const ADDR1_HEX = '0401020304' + '061fb3' + 'a50322' + PEER_HEX
const OBS = '/ip4/127.0.0.1/tcp/5000'
const OBS_HEX = '047f000001' + '061388'

describe('identify (§11.2)', () => {
  const blobHex = table([u64(3n), fixvec(utf8hex('/ckb/92b197aa')), fixvec(utf8hex('tentacle-ts/0.1.0'))])

  test("CKB's Identify blob: { flag: Uint64, name: Bytes, client_version: Bytes }", () => {
    assert.equal(
      toHex(encodeIdentifyBlob({ flag: 3n, name: '/ckb/92b197aa', clientVersion: 'tentacle-ts/0.1.0' })),
      blobHex,
    )
    assert.deepEqual(decodeIdentifyBlob(hex(blobHex)), {
      flag: 3n,
      name: '/ckb/92b197aa',
      clientVersion: 'tentacle-ts/0.1.0',
    })
  })

  test('the blob is read strictly (CKB IdentifyReader::from_slice): an extra field, bad UTF-8 or a short flag is malformed', () => {
    const extra = table([u64(3n), fixvec(utf8hex('/ckb/x')), fixvec(''), fixvec('')])
    assert.equal(
      code(() => decodeIdentifyBlob(hex(extra))),
      'PROTOCOLS_ERR_MALFORMED_MESSAGE',
    )
    assert.equal(
      code(() => decodeIdentifyBlob(hex(table([u64(3n), fixvec('c328'), fixvec('')])))),
      'PROTOCOLS_ERR_MALFORMED_MESSAGE',
    )
    assert.equal(
      code(() => decodeIdentifyBlob(hex(table([u32(3), fixvec(''), fixvec('')])))),
      'PROTOCOLS_ERR_MALFORMED_MESSAGE',
    )
  })

  test('IdentifyMessage { listen_addrs: [Address { bytes }], observed_addr, identify }', () => {
    const wire = table([dynvec([table([fixvec(ADDR1_HEX)])]), table([fixvec(OBS_HEX)]), fixvec(blobHex)])
    assert.equal(
      toHex(encodeIdentifyMessage({ listenAddrs: [ADDR1], observedAddr: OBS, identify: hex(blobHex) })),
      wire,
    )
    const m = decodeIdentifyMessage(hex(wire))
    assert.deepEqual(
      [m.listenAddrs, m.observedAddr, toHex(m.identify), m.invalidListenAddrs],
      [[ADDR1], OBS, blobHex, 0],
    )
  })

  test('as CKB: a listen address that is not a multiaddr is skipped, an observed one fails the message', () => {
    const skip = table([
      dynvec([table([fixvec('05')]), table([fixvec(ADDR1_HEX)])]),
      table([fixvec(OBS_HEX)]),
      fixvec(''),
    ])
    const m = decodeIdentifyMessage(hex(skip))
    assert.deepEqual([m.listenAddrs, m.invalidListenAddrs], [[ADDR1], 1])
    const badObserved = table([dynvec([]), table([fixvec('05')]), fixvec('')])
    assert.equal(
      code(() => decodeIdentifyMessage(hex(badObserved))),
      'PROTOCOLS_ERR_MALFORMED_MESSAGE',
    )
  })
})

describe('discovery (§11.3)', () => {
  test('GetNodes is written as GetNodes2 { version, count, listen_port: PortOpt, required_flags }', () => {
    const some = table([union(0, table([u32(1), u32(1000), '431f', u64(14n)]))])
    assert.equal(
      toHex(
        encodeDiscoveryMessage({ type: 'get-nodes', version: 1, count: 1000, listenPort: 8003, requiredFlags: 14n }),
      ),
      some,
    )
    assert.deepEqual(decodeDiscoveryMessage(hex(some)), {
      type: 'get-nodes',
      version: 1,
      count: 1000,
      listenPort: 8003,
      requiredFlags: 14n,
    })
    const none = table([union(0, table([u32(0), u32(1000), '', u64(14n)]))])
    assert.equal(
      toHex(
        encodeDiscoveryMessage({
          type: 'get-nodes',
          version: 0,
          count: 1000,
          listenPort: undefined,
          requiredFlags: 14n,
        }),
      ),
      none,
    )
  })

  test("tentacle's GetNodes without required_flags reads as COMPATIBILITY (as CKB)", () => {
    const old = table([union(0, table([u32(0), u32(1000), '431f']))])
    assert.deepEqual(decodeDiscoveryMessage(hex(old)), {
      type: 'get-nodes',
      version: 0,
      count: 1000,
      listenPort: 8003,
      requiredFlags: 1n,
    })
  })

  test('Nodes is written as Nodes2 { announce: Bool, items: [Node2 { addresses, flags }] }; a Node without flags reads as COMPATIBILITY', () => {
    const wire = table([union(1, table(['01', dynvec([table([dynvec([fixvec(ADDR1_HEX)]), u64(3n)])])]))])
    const msg: DiscoveryMessage = { type: 'nodes', announce: true, items: [{ addresses: [ADDR1], flags: 3n }] }
    assert.equal(toHex(encodeDiscoveryMessage(msg)), wire)
    assert.deepEqual(decodeDiscoveryMessage(hex(wire)), msg)
    const old = table([union(1, table(['00', dynvec([table([dynvec([fixvec(ADDR1_HEX)])])])]))])
    assert.deepEqual(decodeDiscoveryMessage(hex(old)), {
      type: 'nodes',
      announce: false,
      items: [{ addresses: [ADDR1], flags: 1n }],
    })
  })

  test("tentacle-discovery's older form: GetNodes/Nodes without flags, inside a u32be inner length prefix (§11.3)", () => {
    const be32 = (n: number): string => n.toString(16).padStart(8, '0')
    const getNodes = table([union(0, table([u32(0), u32(1000), '431f']))])
    const wire = be32(getNodes.length / 2) + getNodes
    assert.equal(
      toHex(
        encodeDiscoveryMessage(
          { type: 'get-nodes', version: 0, count: 1000, listenPort: 8003, requiredFlags: 14n },
          'tentacle',
        ),
      ),
      wire,
    )
    assert.deepEqual(decodeDiscoveryMessage(hex(wire), 'tentacle'), {
      type: 'get-nodes',
      version: 0,
      count: 1000,
      listenPort: 8003,
      requiredFlags: 1n,
    })
    const nodes = table([union(1, table(['01', dynvec([table([dynvec([fixvec(ADDR1_HEX)])])])]))])
    assert.equal(
      toHex(
        encodeDiscoveryMessage(
          { type: 'nodes', announce: true, items: [{ addresses: [ADDR1], flags: 3n }] },
          'tentacle',
        ),
      ),
      be32(nodes.length / 2) + nodes,
    )
    // A prefix that does not match, or none at all, is malformed.
    assert.equal(
      code(() => decodeDiscoveryMessage(hex(be32(nodes.length / 2 + 1) + nodes), 'tentacle')),
      'PROTOCOLS_ERR_MALFORMED_MESSAGE',
    )
    assert.equal(
      code(() => decodeDiscoveryMessage(hex(nodes), 'tentacle')),
      'PROTOCOLS_ERR_MALFORMED_MESSAGE',
    )
    assert.equal(
      code(() => decodeDiscoveryMessage(hex('0000'), 'tentacle')),
      'PROTOCOLS_ERR_MALFORMED_MESSAGE',
    )
  })

  test('unknown flag bits are dropped (from_bits_truncate)', () => {
    const wire = table([union(0, table([u32(1), u32(5), '', u64(0xff00n | 14n)]))])
    assert.equal((decodeDiscoveryMessage(hex(wire)) as { requiredFlags: bigint }).requiredFlags, 14n)
  })

  test('as CKB: announce other than 0/1, or any address that is not a multiaddr, fails the message', () => {
    const announce2 = table([union(1, table(['02', dynvec([])]))])
    assert.equal(
      code(() => decodeDiscoveryMessage(hex(announce2))),
      'PROTOCOLS_ERR_MALFORMED_MESSAGE',
    )
    const badAddr = table([
      union(1, table(['00', dynvec([table([dynvec([fixvec(ADDR1_HEX), fixvec('05')]), u64(3n)])])])),
    ])
    assert.equal(
      code(() => decodeDiscoveryMessage(hex(badAddr))),
      'PROTOCOLS_ERR_MALFORMED_MESSAGE',
    )
    assert.equal(
      code(() => decodeDiscoveryMessage(hex(table([union(2, '')])))),
      'PROTOCOLS_ERR_MALFORMED_MESSAGE',
    )
  })
})

describe('properties of the identify and discovery codecs', () => {
  const addr = fc
    .tuple(fc.ipV4(), fc.integer({ min: 0, max: 65535 }), fc.boolean())
    .map(([ip, port, p2p]) => `/ip4/${ip}/tcp/${port}${p2p ? `/p2p/${PEER}` : ''}`)
  const flags = fc.bigInt({ min: 0n, max: 63n })

  test('round trips', () => {
    fc.assert(
      fc.property(
        fc.array(addr, { maxLength: 12 }),
        addr,
        fc.uint8Array({ maxLength: 40 }),
        (listenAddrs, observedAddr, identify) => {
          const m = decodeIdentifyMessage(encodeIdentifyMessage({ listenAddrs, observedAddr, identify }))
          assert.deepEqual(
            [m.listenAddrs, m.observedAddr, toHex(m.identify)],
            [listenAddrs, observedAddr, toHex(identify)],
          )
        },
      ),
      { numRuns: 300 },
    )
    fc.assert(
      fc.property(flags, fc.string({ maxLength: 20 }), fc.string({ maxLength: 20 }), (flag, name, clientVersion) => {
        assert.deepEqual(decodeIdentifyBlob(encodeIdentifyBlob({ flag, name, clientVersion })), {
          flag,
          name,
          clientVersion,
        })
      }),
      { numRuns: 300 },
    )
    const nodes = fc.record({
      type: fc.constant('nodes' as const),
      announce: fc.boolean(),
      items: fc.array(fc.record({ addresses: fc.array(addr, { maxLength: 3 }), flags }), { maxLength: 8 }),
    })
    const getNodes = fc.record({
      type: fc.constant('get-nodes' as const),
      version: fc.integer({ min: 0, max: 0xffffffff }),
      count: fc.integer({ min: 0, max: 0xffffffff }),
      listenPort: fc.option(fc.integer({ min: 0, max: 65535 }), { nil: undefined }),
      requiredFlags: flags,
    })
    fc.assert(
      fc.property(fc.oneof(nodes, getNodes), (msg) => {
        assert.deepEqual(plain(decodeDiscoveryMessage(encodeDiscoveryMessage(msg))), plain(msg))
        // The older form carries no flags: they come back as COMPATIBILITY.
        const old = decodeDiscoveryMessage(encodeDiscoveryMessage(msg, 'tentacle'), 'tentacle')
        const noFlags =
          msg.type === 'nodes'
            ? { ...msg, items: msg.items.map((i) => ({ ...i, flags: 1n })) }
            : { ...msg, requiredFlags: 1n }
        assert.deepEqual(plain(old), plain(noFlags))
      }),
      { numRuns: 300 },
    )
  })

  const decoders: Array<[string, (b: Uint8Array) => unknown, () => Uint8Array]> = [
    [
      'IdentifyMessage',
      decodeIdentifyMessage,
      () => encodeIdentifyMessage({ listenAddrs: [ADDR1], observedAddr: OBS, identify: hex('0102') }),
    ],
    ['Identify blob', decodeIdentifyBlob, () => encodeIdentifyBlob({ flag: 3n, name: '/ckb/x', clientVersion: 'v' })],
    [
      'DiscoveryMessage (Nodes)',
      decodeDiscoveryMessage,
      () => encodeDiscoveryMessage({ type: 'nodes', announce: false, items: [{ addresses: [ADDR1, OBS], flags: 3n }] }),
    ],
    [
      'DiscoveryMessage (GetNodes)',
      decodeDiscoveryMessage,
      () => encodeDiscoveryMessage({ type: 'get-nodes', version: 1, count: 1000, listenPort: 1, requiredFlags: 14n }),
    ],
    [
      'DiscoveryMessage (tentacle form)',
      (b) => decodeDiscoveryMessage(b, 'tentacle'),
      () =>
        encodeDiscoveryMessage(
          { type: 'nodes', announce: false, items: [{ addresses: [ADDR1], flags: 3n }] },
          'tentacle',
        ),
    ],
    ['PingMessage', decodePingMessage, () => encodePingMessage({ type: 'ping', nonce: 7 })],
  ]
  for (const [name, decode, valid] of decoders) {
    test(`${name}: arbitrary and mutated bytes give a value or PROTOCOLS_ERR_MALFORMED_MESSAGE, nothing else`, () => {
      const check = (b: Uint8Array): void => {
        try {
          decode(b)
        } catch (e) {
          if (!(e instanceof ProtocolsError) || e.code !== 'PROTOCOLS_ERR_MALFORMED_MESSAGE') throw e
        }
      }
      fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), check), { numRuns: 2000 })
      const base = valid()
      fc.assert(
        fc.property(
          fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
          fc.nat(),
          (edits, cut) => {
            const m = Uint8Array.from(base)
            for (const [i, v] of edits) m[i % m.length] = v
            check(m)
            check(m.subarray(0, cut % (m.length + 1)))
          },
        ),
        { numRuns: 2000 },
      )
    })
  }
})
