// Identity keys (key files with mode 0600), PeerId parsing with typed errors, base58.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import {
  base58Decode,
  base58Encode,
  nobleCryptoProvider,
  nodeCryptoProvider,
  PeerId,
  SecioError,
  SecioKeyPair,
} from '../src/index.js'
import { hex, toHex } from './helpers.js'

const isCode = (code: string) => (e: unknown) => e instanceof SecioError && e.code === code

describe('SecioKeyPair', () => {
  test('save writes 64 hex characters with mode 0600; load reads it back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'secio-key-'))
    try {
      const k = SecioKeyPair.generate()
      const path = join(dir, 'secret_key')
      await k.save(path)
      assert.equal((await stat(path)).mode & 0o777, 0o600)
      assert.match((await readFile(path, 'utf8')).trim(), /^[0-9a-f]{64}$/)
      const back = await SecioKeyPair.load(path)
      assert.ok(back.peerId.equals(k.peerId))
      assert.deepEqual(back.publicKey, k.publicKey)
      // An existing file with looser permissions is tightened.
      await writeFile(path, 'x', { mode: 0o644 })
      await k.save(path)
      assert.equal((await stat(path)).mode & 0o777, 0o600)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  test('load accepts a raw 32-byte file (CKB layout) and rejects anything else with SECIO_ERR_INVALID_KEY_FILE', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'secio-key-'))
    try {
      const raw = join(dir, 'raw')
      await writeFile(raw, hex('11'.repeat(32)))
      assert.equal((await SecioKeyPair.load(raw)).peerId.toString(), 'QmUVWwwx6RDmtMcWWmNEeuxBk5VryScchC431DKRiEac7v')
      for (const content of ['nothex', '00'.repeat(32), 'ff'.repeat(32), '11'.repeat(31)]) {
        const p = join(dir, 'bad')
        await writeFile(p, content)
        await assert.rejects(SecioKeyPair.load(p), isCode('SECIO_ERR_INVALID_KEY_FILE'))
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  test('load of a missing or unreadable path rejects with SECIO_ERR_INVALID_KEY_FILE, the fs error as cause', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'secio-key-'))
    try {
      for (const [path, cause] of [
        [join(dir, 'missing'), 'ENOENT'],
        [dir, 'EISDIR'],
      ]) {
        await assert.rejects(SecioKeyPair.load(path), (e: unknown) => {
          assert.ok(isCode('SECIO_ERR_INVALID_KEY_FILE')(e), `${path}: ${String(e)}`)
          assert.equal(((e as Error).cause as NodeJS.ErrnoException).code, cause)
          assert.ok((e as Error).message.includes(path))
          return true
        })
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  test('fromSecret rejects 0, n and wrong lengths with SECIO_ERR_INVALID_SECRET_KEY', () => {
    assert.throws(() => SecioKeyPair.fromSecret(new Uint8Array(32)), isCode('SECIO_ERR_INVALID_SECRET_KEY'))
    assert.throws(
      () => SecioKeyPair.fromSecret(hex('fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141')),
      isCode('SECIO_ERR_INVALID_SECRET_KEY'),
    )
    assert.throws(() => SecioKeyPair.fromSecret(new Uint8Array(31).fill(1)), isCode('SECIO_ERR_INVALID_SECRET_KEY'))
    assert.equal(
      SecioKeyPair.fromSecret(hex('fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140')).publicKey.length,
      33,
    )
  })

  test('the secret is not exposed by JSON or inspection', () => {
    const k = SecioKeyPair.fromSecret(hex('11'.repeat(32)))
    assert.ok(!JSON.stringify(k).includes('1111'))
    assert.equal(toHex(k.secret()), '11'.repeat(32))
  })
})

describe('PeerId', () => {
  test('parse errors are SECIO_ERR_INVALID_PEER_ID: not base58, wrong code, wrong length, empty', () => {
    assert.throws(() => PeerId.parse('Qm0OIl'), isCode('SECIO_ERR_INVALID_PEER_ID'))
    assert.throws(() => PeerId.parse(''), isCode('SECIO_ERR_INVALID_PEER_ID'))
    assert.throws(() => PeerId.parse(base58Encode(hex('1320' + '00'.repeat(32)))), isCode('SECIO_ERR_INVALID_PEER_ID'))
    assert.throws(() => PeerId.parse(base58Encode(hex('1220' + '00'.repeat(31)))), isCode('SECIO_ERR_INVALID_PEER_ID'))
    assert.throws(() => PeerId.fromBytes(hex('1221' + '00'.repeat(32))), isCode('SECIO_ERR_INVALID_PEER_ID'))
    assert.throws(() => PeerId.fromBytes(new Uint8Array(0)), isCode('SECIO_ERR_INVALID_PEER_ID'))
  })

  test('bytes and text round-trip; equals compares bytes', () => {
    const k = SecioKeyPair.generate()
    const id = PeerId.fromBytes(k.peerId.toBytes())
    assert.ok(id.equals(k.peerId))
    assert.ok(PeerId.parse(id.toString()).equals(id))
    assert.ok(id.toString().startsWith('Qm'))
    assert.ok(!id.equals(SecioKeyPair.generate().peerId))
    assert.ok(id.matchesPublicKey(k.publicKey))
  })

  test('arbitrary text parses to a PeerId or SECIO_ERR_INVALID_PEER_ID, nothing else', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (s) => {
        try {
          PeerId.parse(s)
        } catch (e) {
          assert.ok(isCode('SECIO_ERR_INVALID_PEER_ID')(e))
        }
      }),
    )
  })
})

describe('base58', () => {
  test('round-trips arbitrary bytes, leading zeros included', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        assert.equal(toHex(base58Decode(base58Encode(b))!), toHex(b))
      }),
    )
    assert.equal(base58Encode(Uint8Array.of(0, 0, 1)), '112')
    assert.equal(base58Decode('0'), undefined)
  })
})

describe('peer key checks, the same in both providers', () => {
  for (const p of [nodeCryptoProvider, nobleCryptoProvider]) {
    test(`${p.name}: secp256k1 public keys need a SEC1 prefix that matches their length`, () => {
      const compressed = SecioKeyPair.generate().publicKey
      assert.equal(p.isValidPublicKey(compressed), true)
      assert.equal(p.isValidPublicKey(Uint8Array.of(0x04, ...compressed.subarray(1))), false)
      assert.equal(p.isValidPublicKey(Uint8Array.of(0x02, ...new Uint8Array(64).fill(1))), false)
      assert.equal(p.isValidPublicKey(compressed.subarray(0, 32)), false)
    })

    test(`${p.name}: an X25519 point of small order (all-zero shared secret) → SECIO_ERR_INVALID_EPHEMERAL_KEY`, () => {
      const ours = p.generateEphemeral('X25519')
      assert.throws(() => ours.deriveSecret(new Uint8Array(32)), isCode('SECIO_ERR_INVALID_EPHEMERAL_KEY'))
    })

    test(`${p.name}: an AEAD opens what it sealed and rejects a flipped tag bit with SECIO_ERR_DECRYPT_FAILED`, () => {
      const key = new Uint8Array(16).fill(9)
      const sealer = p.createAead('AES-128-GCM', key)
      const frames = [Buffer.from('first frame'), Buffer.from('second')].map((m) =>
        Buffer.concat(sealer.seal([m], m.length)),
      )
      const opener = p.createAead('AES-128-GCM', key)
      assert.equal(Buffer.from(opener.open(frames[0]!)).toString(), 'first frame')
      frames[1]![frames[1]!.length - 1]! ^= 1
      assert.throws(() => opener.open(frames[1]!), isCode('SECIO_ERR_DECRYPT_FAILED'))
    })
  }
})
