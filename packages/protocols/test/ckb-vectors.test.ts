// Real bytes from CKB's own network layer (crates.io ckb-network 1.2.4),
// captured by the interop suite into test/interop/fixtures/. Every message
// decodes to the fields recorded with it, and our encoder, given those
// fields, writes the very same bytes.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import {
  decodeDiscoveryMessage,
  decodeIdentifyBlob,
  decodeIdentifyMessage,
  decodeMultiaddr,
  decodePingMessage,
  encodeDiscoveryMessage,
  encodeIdentifyBlob,
  encodeIdentifyMessage,
  encodePingMessage,
} from '../src/index.js'

const dir = fileURLToPath(new URL('../../../test/interop/fixtures/', import.meta.url))
const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'))
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

interface Fixture {
  key: string
  hex?: string
  fields?: Record<string, unknown>
}
function messages(name: string): Fixture[] {
  const file = `${dir}ckb-network-${name}.json`
  assert.ok(existsSync(file), `${file} is committed by the interop suite`)
  return (JSON.parse(readFileSync(file, 'utf8')) as { messages: Fixture[] }).messages
}

test('ckb-network identify messages: decoded fields and re-encoded bytes match', () => {
  const list = messages('identify').filter((m) => m.hex !== undefined)
  assert.ok(list.length >= 2)
  for (const m of list) {
    const f = m.fields as {
      listen_addrs: number
      observed_addr_hex: string
      identify: { flag: string; name: string; client_version: string }
    }
    const msg = decodeIdentifyMessage(hex(m.hex!))
    assert.equal(msg.listenAddrs.length, f.listen_addrs, m.key)
    assert.equal(msg.observedAddr, decodeMultiaddr(hex(f.observed_addr_hex)).text)
    const blob = decodeIdentifyBlob(msg.identify)
    assert.deepEqual(blob, {
      flag: BigInt(f.identify.flag),
      name: f.identify.name,
      clientVersion: f.identify.client_version,
    })
    const again = encodeIdentifyMessage({
      listenAddrs: msg.listenAddrs,
      observedAddr: msg.observedAddr,
      identify: encodeIdentifyBlob(blob),
    })
    assert.equal(toHex(again), m.hex, m.key)
  }
})

test('ckb-network discovery messages (GetNodes2, Nodes2 first and announced): decoded fields and re-encoded bytes match', () => {
  const list = messages('discovery').filter((m) => m.hex !== undefined)
  assert.ok(list.length >= 3)
  for (const m of list) {
    const msg = decodeDiscoveryMessage(hex(m.hex!))
    const f = m.fields as Record<string, unknown>
    if (msg.type === 'get-nodes') {
      assert.deepEqual(
        [msg.version, msg.count, msg.listenPort, msg.requiredFlags],
        [f.version, f.count, f.listen_port, BigInt(f.required_flags as string)],
        m.key,
      )
    } else {
      const items = f.items as Array<{ addresses_hex: string[]; flags: string }>
      assert.equal(msg.announce, f.announce, m.key)
      assert.deepEqual(
        msg.items.map((i) => [i.addresses, i.flags]),
        items.map((i) => [i.addresses_hex.map((a) => decodeMultiaddr(hex(a)).text), BigInt(i.flags)]),
        m.key,
      )
    }
    assert.equal(toHex(encodeDiscoveryMessage(msg)), m.hex, m.key)
  }
})

test('ckb-network ping messages: decoded nonce and re-encoded bytes match', () => {
  const list = messages('ping').filter((m) => m.hex !== undefined)
  assert.ok(list.length >= 2)
  for (const m of list) {
    const f = m.fields as { item: string; nonce: number }
    const msg = decodePingMessage(hex(m.hex!))
    assert.deepEqual(msg, { type: f.item === 'Ping' ? 'ping' : 'pong', nonce: f.nonce }, m.key)
    assert.equal(toHex(encodePingMessage(msg)), m.hex, m.key)
  }
})

test('ckb-network disconnect message is plain UTF-8', () => {
  for (const m of messages('disconnect').filter((x) => x.hex !== undefined)) {
    assert.equal(Buffer.from(m.hex!, 'hex').toString('utf8'), (m.fields as { text: string }).text)
  }
})
