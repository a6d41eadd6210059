// The address book (CKB's peer store): bounded, feeler vs full-dial selection
// by last connection, ageing out of failed addresses, IP bans that expire,
// and the JSON file written atomically and read back. A fake clock.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { AddressBook, Flags, ProtocolsError } from '../src/index.js'
import { isDialable, isReachableIp, isValidDiscoveryAddr, withTcpPort } from '../src/address-filter.js'

const PEERS = [
  'QmPNw5ZmLkgnBr69vL3CFw5hwyBqDcTPctUaYJJ9egVtSF',
  'QmX8jHamUA57S818EZuDj2YKb9c9mmLpFrBc4gnrnwnGYQ',
  'QmavZHEisFPdkKbTBeMX2hTCfiZ4aqAjYUbZEaoM3SiohN',
]
const addr = (i: number, ip = `10.0.0.${i}`) => `/ip4/${ip}/tcp/${8000 + i}/p2p/${PEERS[i % PEERS.length]}`
const DAY = 24 * 3600 * 1000

function book(max = 100, file?: string) {
  const clock = { now: 1_000_000_000_000 }
  return { clock, book: new AddressBook({ maxAddresses: max, file, now: () => clock.now }) }
}

describe('AddressBook', () => {
  test('a discovered address is for a feeler; after a connection it is for a full dial once dialIntervalMs passed', () => {
    const { clock, book: b } = book()
    assert.equal(b.add(addr(0), Flags.COMPATIBILITY), true)
    assert.equal(b.add(addr(0), Flags.COMPATIBILITY | Flags.DISCOVERY), false, 'known already: only the flags change')
    assert.equal(b.get(addr(0))!.flags, '3')
    assert.equal(b.add('/ip4/1.2.3.4/tcp/1', 1n), false, 'no /p2p/, not kept')
    const all = () => true
    assert.deepEqual(
      b.fetchToFeeler(10, 60_000, all).map((e) => e.address),
      [addr(0)],
    )
    assert.deepEqual(b.fetchToAttempt(10, 14n, 15_000, all), [])
    b.markTried(addr(0))
    assert.deepEqual(b.fetchToFeeler(10, 60_000, all), [], 'tried within a minute')
    b.addOutbound(addr(0), 3n) // the feeler identified it
    assert.deepEqual(b.fetchToFeeler(10, 60_000, all), [], 'connected within 3 days: no more feelers')
    assert.deepEqual(b.fetchToAttempt(10, 14n, 15_000, all), [], 'a full dial waits dialIntervalMs after the feeler')
    clock.now += 15_000
    assert.deepEqual(
      b.fetchToAttempt(10, 14n, 15_000, all).map((e) => e.address),
      [addr(0)],
    )
    assert.deepEqual(b.fetchToAttempt(10, Flags.LIGHT_CLIENT, 15_000, all), [], 'flags must pass requiredFlags')
    assert.deepEqual(
      b.fetchRandom(10, 14n).map((e) => e.address),
      [addr(0)],
    )
    clock.now += 8 * DAY
    assert.deepEqual(b.fetchRandom(10, 14n), [], 'not connected for 7 days: not shared any more')
  })

  test('failed addresses age out: never connected after 3 tries, long unconnected after 10', () => {
    const { clock, book: b } = book()
    b.add(addr(0), 1n)
    for (let i = 0; i < 3; i++) b.markTried(addr(0))
    assert.equal(b.purge(), 0, 'tried within the last minute: kept')
    clock.now += 61_000
    assert.equal(b.purge(), 1)
    assert.equal(b.size, 0)
    b.addOutbound(addr(1), 1n)
    clock.now += 8 * DAY
    for (let i = 0; i < 9; i++) b.markTried(addr(1))
    clock.now += 61_000
    assert.equal(b.purge(), 0)
    b.markTried(addr(1))
    clock.now += 61_000
    assert.equal(b.purge(), 1)
  })

  test('a never-connected address learnt again starts over (CKB add_addr replaces it): a peer that comes back is not purged', () => {
    // A peer down for a while: its never-connected address failed 3 feelers. It comes back and
    // announces itself (GetNodes listen port, identify, a Nodes item): the address must be
    // feelered again, not purged on the next tick as a dead one.
    const { clock, book: b } = book()
    const all = () => true
    b.add(addr(0), 1n)
    for (let i = 0; i < 3; i++) b.markTried(addr(0))
    clock.now += 61_000
    assert.equal(b.add(addr(0), 3n), false, 'known already')
    assert.equal(b.get(addr(0))!.attempts, 0)
    assert.equal(b.get(addr(0))!.flags, '3')
    assert.equal(b.purge(), 0, 'learnt again: kept')
    assert.deepEqual(
      b.fetchToFeeler(10, 60_000, all).map((e) => e.address),
      [addr(0)],
      'feelered at once, not after feelerRetryMs',
    )
    // A connected address keeps its history (CKB keeps the entry with the later last-connected time).
    b.addOutbound(addr(1), 3n)
    b.markTried(addr(1))
    b.add(addr(1), 3n)
    assert.equal(b.get(addr(1))!.attempts, 1)
    assert.ok(b.get(addr(1))!.lastConnectedAt > 0)
  })

  test('bans cover the whole IP, drop its addresses, refuse new ones, and expire', () => {
    const { clock, book: b } = book()
    b.add(addr(0, '10.1.1.1'), 1n)
    b.add(addr(1, '10.1.1.1'), 1n)
    b.add(addr(2, '10.1.1.2'), 1n)
    b.ban('10.1.1.1', 300_000, 'test')
    assert.deepEqual(
      b.entries().map((e) => e.address),
      [addr(2, '10.1.1.2')],
    )
    assert.equal(b.isBanned(`/ip4/10.1.1.1/tcp/1/p2p/${PEERS[0]}`), true)
    assert.equal(b.add(addr(0, '10.1.1.1'), 1n), false)
    assert.deepEqual(
      b.bans().map((x) => [x.ip, x.reason]),
      [['10.1.1.1', 'test']],
    )
    clock.now += 300_000
    assert.equal(b.isBanned(addr(0, '10.1.1.1')), false)
    assert.deepEqual(b.bans(), [])
    assert.equal(b.add(addr(0, '10.1.1.1'), 1n), true)
  })

  test('property: the book never holds more than maxAddresses, whatever is added', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 65535 }), fc.boolean()), { maxLength: 60 }),
        (max, adds) => {
          const { book: b } = book(max)
          for (const [ip, port, connected] of adds) {
            const a = `/ip4/${ip}/tcp/${port}/p2p/${PEERS[port % 3]}`
            if (connected) b.addOutbound(a, 1n)
            else b.add(a, 1n)
            assert.ok(b.size <= max)
          }
        },
      ),
      { numRuns: 300 },
    )
  })

  test('when full, a never-connected address makes room before a connected one', () => {
    const { book: b } = book(2)
    b.addOutbound(addr(0), 1n)
    b.add(addr(1), 1n)
    b.add(addr(2), 1n)
    assert.deepEqual(
      b
        .entries()
        .map((e) => e.address)
        .sort(),
      [addr(0), addr(2)].sort(),
    )
  })

  test('the JSON file: written atomically (no temporary left), read back, bans kept; a corrupt file is PROTOCOLS_ERR_ADDRESS_BOOK_FILE', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'tentacle-book-'))
    t.after(() => rm(dir, { recursive: true, force: true }))
    const file = join(dir, 'book.json')
    const { clock, book: b } = book(100, file)
    b.add(addr(0), 3n)
    b.addOutbound(addr(1), 3n)
    b.ban('10.9.9.9', 60_000, 'why')
    await b.save()
    assert.deepEqual(await readdir(dir), ['book.json'])
    const stored = JSON.parse(await readFile(file, 'utf8'))
    assert.equal(stored.version, 1)
    assert.equal(stored.addresses.length, 2)
    const again = new AddressBook({ maxAddresses: 100, file, now: () => clock.now })
    assert.deepEqual(again.entries(), b.entries())
    assert.deepEqual(again.bans(), b.bans())
    await writeFile(file, '{"version":1,"addresses":')
    assert.throws(
      () => new AddressBook({ maxAddresses: 100, file, now: () => clock.now }),
      (e: unknown) => e instanceof ProtocolsError && e.code === 'PROTOCOLS_ERR_ADDRESS_BOOK_FILE',
    )
    // A missing file is an empty book.
    assert.equal(new AddressBook({ maxAddresses: 100, file: join(dir, 'none.json'), now: () => clock.now }).size, 0)
  })

  test('an unwritable file is PROTOCOLS_ERR_ADDRESS_BOOK_FILE from save()', async () => {
    const { book: b } = book(10, '/proc/definitely/not/here/book.json')
    b.add(addr(0), 1n)
    await assert.rejects(
      b.save(),
      (e: unknown) => e instanceof ProtocolsError && e.code === 'PROTOCOLS_ERR_ADDRESS_BOOK_FILE',
    )
  })
})

describe('address rules (tentacle is_reachable, CKB is_valid_addr)', () => {
  test('reachable IPs', () => {
    for (const ip of ['8.8.8.8', '1.1.1.1', '2606:4700::1111']) assert.equal(isReachableIp(ip), true, ip)
    for (const ip of [
      '127.0.0.1',
      '127.3.4.5',
      '10.1.2.3',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '169.254.1.1',
      '0.0.0.0',
      '255.255.255.255',
      '192.0.2.1',
      '198.51.100.1',
      '203.0.113.1',
      '::1',
      '::',
      'fe80::1',
      'fc00::1',
      'fd12::1',
      '2001:db8::1',
      'ff02::1',
    ]) {
      assert.equal(isReachableIp(ip), false, ip)
    }
  })

  test('discovery passes loopback only with allowLocalAddresses; non-socket addresses pass', () => {
    assert.equal(isValidDiscoveryAddr(addr(0, '127.0.0.1'), false), false)
    assert.equal(isValidDiscoveryAddr(addr(0, '127.0.0.1'), true), true)
    assert.equal(isValidDiscoveryAddr(addr(0, '8.8.8.8'), false), true)
    assert.equal(isValidDiscoveryAddr(`/dns4/example.org/tcp/1/p2p/${PEERS[0]}`, false), true)
  })

  test('dialable: host/tcp/p2p only; withTcpPort rewrites the port', () => {
    assert.equal(isDialable(addr(0)), true)
    assert.equal(isDialable('/ip4/1.2.3.4/tcp/1'), false)
    assert.equal(isDialable(`/ip4/1.2.3.4/tcp/1/ws/p2p/${PEERS[0]}`), false)
    assert.equal(withTcpPort(addr(0), 9), `/ip4/10.0.0.0/tcp/9/p2p/${PEERS[0]}`)
  })
})
