// Hostile peers: each case ends in a SecioError with a stable code (and the
// phase), within the deadline, with the socket destroyed, no listener left on it
// and no timer left running.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import type net from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { encodeFrame } from '@tentacle-ts/codec'
import {
  encodePublicKey,
  handshake,
  nodeCryptoProvider,
  ProposeCodec,
  SecioError,
  SecioKeyPair,
  type CryptoProvider,
  type HandshakeOptions,
  type HandshakePhase,
  type HandshakeResult,
  type SecioErrorCode,
} from '../src/index.js'
import { SECP256K1_N } from '../src/crypto/ecdsa-der.js'
import { tcpPair, within } from './helpers.js'
import { mitm, scriptedPeer } from './peers.js'

const honestKey = SecioKeyPair.generate()
const otherKey = SecioKeyPair.generate()

function timeouts(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
}

/**
 * Awaits a failing handshake; checks code, phase, elapsed time, that the socket is
 * destroyed with no handshake listener left, and that no timer is left running.
 */
const EVENTS = ['data', 'end', 'close', 'drain', 'error'] as const

function listenerCounts(socket: net.Socket): number[] {
  return EVENTS.map((e) => socket.listenerCount(e))
}

async function expectFailure(
  socket: net.Socket,
  start: () => Promise<HandshakeResult>,
  code: SecioErrorCode,
  opts: { phase?: HandshakePhase; maxMs?: number; minMs?: number } = {},
): Promise<SecioError> {
  const before = listenerCounts(socket)
  const timersBefore = timeouts()
  const t0 = performance.now()
  let err: unknown
  try {
    await within(opts.maxMs ?? 5000, start(), 'failing handshake')
    assert.fail('handshake should have failed')
  } catch (e) {
    err = e
  }
  const elapsed = performance.now() - t0
  assert.ok(err instanceof SecioError, `expected SecioError, got ${String(err)}`)
  assert.equal(err.code, code, err.message)
  if (opts.phase !== undefined) assert.equal(err.phase, opts.phase)
  assert.equal(typeof err.bytesReceived, 'number')
  if (opts.minMs !== undefined)
    assert.ok(elapsed >= opts.minMs - 50, `failed after ${elapsed} ms, before ${opts.minMs} ms`)
  assert.equal(socket.destroyed, true, 'socket destroyed')
  // Only a no-op 'error' guard may stay on the dead socket.
  const after = listenerCounts(socket)
  EVENTS.forEach((ev, i) =>
    assert.ok(after[i]! <= before[i]! + (ev === 'error' ? 1 : 0), `'${ev}' listeners ${before[i]} -> ${after[i]}`),
  )
  // The handshake's deadline timer is gone (the `within` timer was cleared too).
  assert.ok(timeouts() <= timersBefore, `timers before ${timersBefore}, after ${timeouts()}`)
  return err
}

function validPropose(key: SecioKeyPair, over: Partial<Parameters<typeof ProposeCodec.encode>[0]> = {}): Uint8Array {
  return ProposeCodec.encode({
    rand: new Uint8Array(16).fill(7),
    pubkey: encodePublicKey(key.publicKey),
    exchanges: 'P-256,P-384,X25519',
    ciphers: 'AES-128-GCM,AES-256-GCM,CHACHA20_POLY1305',
    hashes: 'SHA256,SHA512',
    ...over,
  })
}

async function withPair(fn: (peer: net.Socket, victim: net.Socket) => Promise<void>): Promise<void> {
  const { client, server, close } = await tcpPair()
  client.on('error', () => {})
  try {
    await fn(client, server)
  } finally {
    close()
  }
}

const listen = (socket: net.Socket, extra: Partial<HandshakeOptions> = {}) =>
  handshake(socket, { key: honestKey, timeoutMs: 3000, ...extra })

describe('hostile peers during the handshake', () => {
  test('wrong expected PeerId → SECIO_ERR_PEER_ID_MISMATCH', async () => {
    await withPair(async (peer, victim) => {
      const honest = handshake(peer, { key: otherKey }).catch((e: unknown) => e)
      const err = await expectFailure(
        victim,
        () => handshake(victim, { key: honestKey, expectedPeerId: SecioKeyPair.generate().peerId }),
        'SECIO_ERR_PEER_ID_MISMATCH',
        {
          phase: 'awaiting-propose',
        },
      )
      assert.match(err.message, /expected peer Qm/)
      // The honest side sees the connection drop, as a typed error too.
      assert.ok((await within(5000, honest)) instanceof SecioError)
    })
  })

  test('garbage Propose (random bytes in a frame) → SECIO_ERR_INVALID_PROPOSE', async () => {
    await withPair(async (peer, victim) => {
      peer.write(encodeFrame(Buffer.from('this is not a molecule table, just some garbage bytes of text')))
      await expectFailure(victim, () => listen(victim), 'SECIO_ERR_INVALID_PROPOSE', { phase: 'awaiting-propose' })
    })
  })

  test('an HTTP request instead of a Propose → SECIO_ERR_FRAME_TOO_LARGE at once', async () => {
    await withPair(async (peer, victim) => {
      peer.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
      await expectFailure(victim, () => listen(victim), 'SECIO_ERR_FRAME_TOO_LARGE', {
        phase: 'awaiting-propose',
        maxMs: 2000,
      })
    })
  })

  test('truncated Propose then FIN → SECIO_ERR_UNEXPECTED_EOF', async () => {
    await withPair(async (peer, victim) => {
      const frame = encodeFrame(validPropose(otherKey))
      peer.end(frame.subarray(0, 60))
      const err = await expectFailure(victim, () => listen(victim), 'SECIO_ERR_UNEXPECTED_EOF', {
        phase: 'awaiting-propose',
      })
      assert.equal(err.bytesReceived, 60)
    })
  })

  test('Propose whose molecule is cut short inside its frame → SECIO_ERR_INVALID_PROPOSE', async () => {
    await withPair(async (peer, victim) => {
      peer.write(encodeFrame(validPropose(otherKey).subarray(0, 100)))
      await expectFailure(victim, () => listen(victim), 'SECIO_ERR_INVALID_PROPOSE', { phase: 'awaiting-propose' })
    })
  })

  test('oversized Propose: only a header announcing 8 MiB + 1 → SECIO_ERR_FRAME_TOO_LARGE without waiting for the body', async () => {
    await withPair(async (peer, victim) => {
      const h = Buffer.alloc(4)
      h.writeUInt32BE(8 * 1024 * 1024 + 1)
      peer.write(h)
      const err = await expectFailure(
        victim,
        () => listen(victim, { timeoutMs: 10_000 }),
        'SECIO_ERR_FRAME_TOO_LARGE',
        {
          maxMs: 2000,
        },
      )
      assert.equal(err.bytesReceived, 4)
    })
  })

  test('oversized Propose with a smaller configured max: the body is never buffered', async () => {
    await withPair(async (peer, victim) => {
      const h = Buffer.alloc(4)
      h.writeUInt32BE(64 * 1024 + 1)
      peer.write(Buffer.concat([h, Buffer.alloc(64 * 1024)]))
      await expectFailure(victim, () => listen(victim, { maxFrameLength: 64 * 1024 }), 'SECIO_ERR_FRAME_TOO_LARGE')
    })
  })

  test('Propose with a public key that is not a secp256k1 point → SECIO_ERR_INVALID_PUBLIC_KEY', async () => {
    await withPair(async (peer, victim) => {
      // x = 5 has no y on secp256k1 (x ≥ p, all 0xff, would be rejected too).
      const bogus = new Uint8Array(33)
      bogus[0] = 2
      bogus[32] = 5
      peer.write(encodeFrame(validPropose(otherKey, { pubkey: encodePublicKey(bogus) })))
      await expectFailure(victim, () => listen(victim), 'SECIO_ERR_INVALID_PUBLIC_KEY', { phase: 'awaiting-propose' })
    })
  })

  test('Propose with an unknown PublicKey union item → SECIO_ERR_INVALID_PROPOSE', async () => {
    await withPair(async (peer, victim) => {
      const pk = Buffer.from(encodePublicKey(otherKey.publicKey))
      pk[0] = 1
      peer.write(encodeFrame(validPropose(otherKey, { pubkey: pk })))
      await expectFailure(victim, () => listen(victim), 'SECIO_ERR_INVALID_PROPOSE')
    })
  })

  test('no common cipher → SECIO_ERR_NO_COMMON_SUITE on both sides', async () => {
    await withPair(async (peer, victim) => {
      const other = handshake(peer, { key: otherKey, ciphers: ['CHACHA20_POLY1305'] })
      const a = expectFailure(
        victim,
        () => listen(victim, { ciphers: ['AES-128-GCM', 'AES-256-GCM'] }),
        'SECIO_ERR_NO_COMMON_SUITE',
        {
          phase: 'awaiting-propose',
        },
      )
      const b = expectFailure(peer, () => other, 'SECIO_ERR_NO_COMMON_SUITE')
      await Promise.all([a, b])
    })
  })

  test('a peer that sends Propose and stalls → SECIO_ERR_HANDSHAKE_TIMEOUT awaiting-exchange', async () => {
    await withPair(async (peer, victim) => {
      const frame = encodeFrame(validPropose(otherKey))
      peer.write(frame)
      const err = await expectFailure(
        victim,
        () => listen(victim, { timeoutMs: 1000 }),
        'SECIO_ERR_HANDSHAKE_TIMEOUT',
        {
          phase: 'awaiting-exchange',
          minMs: 1000,
          maxMs: 4000,
        },
      )
      assert.equal(err.bytesReceived, frame.length)
      assert.match(err.message, /awaiting-exchange/)
    })
  })

  test('a peer that connects and sends nothing → SECIO_ERR_HANDSHAKE_TIMEOUT awaiting-propose with 0 bytes', async () => {
    await withPair(async (_peer, victim) => {
      const err = await expectFailure(
        victim,
        () => listen(victim, { timeoutMs: 1000 }),
        'SECIO_ERR_HANDSHAKE_TIMEOUT',
        {
          phase: 'awaiting-propose',
          minMs: 1000,
          maxMs: 4000,
        },
      )
      assert.equal(err.bytesReceived, 0)
    })
  })

  test('a peer that trickles one byte a second → SECIO_ERR_HANDSHAKE_TIMEOUT at the deadline', async () => {
    await withPair(async (peer, victim) => {
      const frame = encodeFrame(validPropose(otherKey))
      let i = 0
      // Not a synchronization: the slowloris pace is the test.
      const trickle = setInterval(() => {
        if (!peer.destroyed) peer.write(frame.subarray(i, i + 1))
        i++
      }, 1000)
      peer.write(frame.subarray(0, 1))
      i = 1
      try {
        const err = await expectFailure(
          victim,
          () => listen(victim, { timeoutMs: 2500 }),
          'SECIO_ERR_HANDSHAKE_TIMEOUT',
          {
            phase: 'awaiting-propose',
            minMs: 2500,
            maxMs: 6000,
          },
        )
        assert.ok(err.bytesReceived! >= 2 && err.bytesReceived! <= 4, `bytes ${err.bytesReceived}`)
      } finally {
        clearInterval(trickle)
      }
    })
  })

  test('a peer that closes during the handshake → SECIO_ERR_UNEXPECTED_EOF', async () => {
    await withPair(async (peer, victim) => {
      peer.end()
      await expectFailure(victim, () => listen(victim), 'SECIO_ERR_UNEXPECTED_EOF', { phase: 'awaiting-propose' })
    })
  })

  test('a peer that resets during the handshake → typed error', async () => {
    await withPair(async (peer, victim) => {
      // The Propose is in the kernel (and so in the victim's receive queue) before the RST.
      await new Promise((resolve) => peer.write(encodeFrame(validPropose(otherKey)), resolve))
      peer.resetAndDestroy()
      const err = await within(
        5000,
        listen(victim).catch((e: unknown) => e),
      )
      assert.ok(err instanceof SecioError)
      assert.ok(
        ['SECIO_ERR_SOCKET', 'SECIO_ERR_CONNECTION_CLOSED', 'SECIO_ERR_UNEXPECTED_EOF'].includes(err.code),
        err.code,
      )
      assert.equal(victim.destroyed, true)
    })
  })

  test('a peer that floods frames while we sign holds no more than a socket buffer, not the flood', async () => {
    // Signing off the event loop (OpenSSL on the thread pool, a busy pool) can take long;
    // an honest peer sends nothing but its Exchange meanwhile.
    const base = nodeCryptoProvider
    const slowSigner: CryptoProvider = {
      name: 'slow-signer',
      randomBytes: (n) => base.randomBytes(n),
      sha256: (...parts) => base.sha256(...parts),
      hmac: (digest, key, ...parts) => base.hmac(digest, key, ...parts),
      generateEphemeral: (agreement, secret) => base.generateEphemeral(agreement, secret),
      createAead: (cipher, key) => base.createAead(cipher, key),
      createSigner: (secret) => {
        const signer = base.createSigner(secret)
        return { sign: async (message) => (await sleep(500), signer.sign(message)) } // slow signing is the test
      },
      isValidPublicKey: (key) => base.isValidPublicKey(key),
      verify: (key, message, signature) => base.verify(key, message, signature),
    }
    await withPair(async (peer, victim) => {
      const flood = 24
      peer.write(encodeFrame(validPropose(otherKey)))
      for (let i = 0; i < flood; i++) peer.write(encodeFrame(Buffer.alloc(1024 * 1024)))
      const err = await expectFailure(
        victim,
        () => listen(victim, { crypto: slowSigner }),
        'SECIO_ERR_INVALID_EXCHANGE',
        {
          phase: 'awaiting-exchange',
        },
      )
      assert.ok(
        err.bytesReceived! < 4 * 1024 * 1024,
        `${err.bytesReceived} bytes taken in while signing (flood of ${flood} MiB)`,
      )
    })
  })

  test('aborting mid-handshake → SECIO_ERR_HANDSHAKE_ABORTED', async () => {
    await withPair(async (_peer, victim) => {
      const ac = new AbortController()
      // The peer never sends: any moment after the start is mid-handshake.
      setImmediate(() => ac.abort())
      await expectFailure(victim, () => listen(victim, { signal: ac.signal }), 'SECIO_ERR_HANDSHAKE_ABORTED', {
        phase: 'awaiting-propose',
      })
    })
  })
})

describe('hostile peers that lie inside the handshake', () => {
  test('wrong nonce echoed → SECIO_ERR_NONCE_MISMATCH', async () => {
    await withPair(async (peer, victim) => {
      void scriptedPeer(peer, otherKey, { echo: (n) => Uint8Array.from(n, (b) => b ^ 1) }).catch(() => {})
      await expectFailure(victim, () => listen(victim), 'SECIO_ERR_NONCE_MISMATCH', { phase: 'awaiting-nonce-echo' })
    })
  })

  test('signed ephemeral key of the wrong length → SECIO_ERR_INVALID_EPHEMERAL_KEY', async () => {
    await withPair(async (peer, victim) => {
      void scriptedPeer(peer, otherKey, { epubkey: (k) => k.subarray(0, 64) }).catch(() => {})
      await expectFailure(victim, () => listen(victim), 'SECIO_ERR_INVALID_EPHEMERAL_KEY', {
        phase: 'awaiting-exchange',
      })
    })
  })

  test('signed ephemeral key that is not a curve point → SECIO_ERR_INVALID_EPHEMERAL_KEY', async () => {
    await withPair(async (peer, victim) => {
      void scriptedPeer(peer, otherKey, { epubkey: (k) => Uint8Array.from(k, (b, i) => (i === 0 ? 4 : 0x5a)) }).catch(
        () => {},
      )
      await expectFailure(victim, () => listen(victim), 'SECIO_ERR_INVALID_EPHEMERAL_KEY', {
        phase: 'awaiting-exchange',
      })
    })
  })
})

/** Offset of the signature bytes inside an Exchange frame (header included). */
function signatureOffset(frame: Buffer): { at: number; len: number } {
  const payload = frame.subarray(4)
  const sigField = payload.readUInt32LE(8)
  return { at: 4 + sigField + 4, len: payload.readUInt32LE(sigField) }
}

function rewriteSignature(frame: Buffer, make: (sig: Buffer) => Buffer): Buffer {
  const { at, len } = signatureOffset(frame)
  const sig = make(Buffer.from(frame.subarray(at, at + len)))
  const payload = frame.subarray(4)
  const epub = payload.subarray(payload.readUInt32LE(4) + 4, payload.readUInt32LE(8))
  const total = 12 + 4 + epub.length + 4 + sig.length
  const out = Buffer.alloc(4 + total)
  out.writeUInt32BE(total, 0)
  out.writeUInt32LE(total, 4)
  out.writeUInt32LE(12, 8)
  out.writeUInt32LE(16 + epub.length, 12)
  out.writeUInt32LE(epub.length, 16)
  epub.copy(out, 20)
  out.writeUInt32LE(sig.length, 20 + epub.length)
  sig.copy(out, 24 + epub.length)
  return out
}

function derInt(v: bigint): Buffer {
  let h = v.toString(16)
  if (h.length % 2) h = '0' + h
  let b = Buffer.from(h, 'hex')
  if (b[0]! & 0x80) b = Buffer.concat([Buffer.of(0), b])
  return Buffer.concat([Buffer.of(2, b.length), b])
}

function parseSig(sig: Buffer): { r: bigint; s: bigint } {
  const rlen = sig[3]!
  const r = BigInt('0x' + sig.subarray(4, 4 + rlen).toString('hex'))
  const slen = sig[5 + rlen]!
  const s = BigInt('0x' + sig.subarray(6 + rlen, 6 + rlen + slen).toString('hex'))
  return { r, s }
}

async function tamperedHandshake(tamperExchange: (sig: Buffer) => Buffer, code: SecioErrorCode): Promise<void> {
  const m = await mitm((dir, i, frame) => (dir === 'd2l' && i === 1 ? rewriteSignature(frame, tamperExchange) : frame))
  try {
    const dialer = handshake(m.dialer, { key: otherKey }).catch((e: unknown) => e)
    await expectFailure(m.listener, () => handshake(m.listener, { key: honestKey, timeoutMs: 3000 }), code, {
      phase: 'awaiting-exchange',
    })
    assert.ok((await within(5000, dialer)) instanceof SecioError)
  } finally {
    m.close()
  }
}

describe('a man in the middle', () => {
  test('bad signature (one byte of s flipped) → SECIO_ERR_SIGNATURE_INVALID', async () => {
    await tamperedHandshake((sig) => {
      sig[sig.length - 1]! ^= 0x01
      return sig
    }, 'SECIO_ERR_SIGNATURE_INVALID')
  })

  test('the high-S twin of a valid signature → SECIO_ERR_SIGNATURE_INVALID (libsecp256k1 low-S rule)', async () => {
    await tamperedHandshake((sig) => {
      const { r, s } = parseSig(sig)
      const body = Buffer.concat([derInt(r), derInt(SECP256K1_N - s)])
      return Buffer.concat([Buffer.of(0x30, body.length), body])
    }, 'SECIO_ERR_SIGNATURE_INVALID')
  })

  test('a valid signature in non-strict DER (padded r) → SECIO_ERR_SIGNATURE_INVALID', async () => {
    await tamperedHandshake((sig) => {
      const { r, s } = parseSig(sig)
      let rh = r.toString(16)
      if (rh.length % 2) rh = '0' + rh
      const rb = Buffer.concat([Buffer.of(0, 0), Buffer.from(rh, 'hex')])
      const body = Buffer.concat([Buffer.of(2, rb.length), rb, derInt(s)])
      return Buffer.concat([Buffer.of(0x30, body.length), body])
    }, 'SECIO_ERR_SIGNATURE_INVALID')
  })

  test('tampered ciphertext in the nonce echo → SECIO_ERR_DECRYPT_FAILED', async () => {
    const m = await mitm((dir, i, frame) => {
      if (dir === 'd2l' && i === 2) frame[6]! ^= 0x80
      return frame
    })
    try {
      const dialer = handshake(m.dialer, { key: otherKey }).catch((e: unknown) => e)
      await expectFailure(
        m.listener,
        () => handshake(m.listener, { key: honestKey, timeoutMs: 3000 }),
        'SECIO_ERR_DECRYPT_FAILED',
        {
          phase: 'awaiting-nonce-echo',
        },
      )
      await within(5000, dialer)
    } finally {
      m.close()
    }
  })

  test('a peer that stalls after its Exchange (echo dropped) → SECIO_ERR_HANDSHAKE_TIMEOUT awaiting-nonce-echo', async () => {
    const m = await mitm((dir, i, frame) => (dir === 'd2l' && i >= 2 ? null : frame))
    try {
      const dialer = handshake(m.dialer, { key: otherKey, timeoutMs: 3000 }).catch((e: unknown) => e)
      await expectFailure(
        m.listener,
        () => handshake(m.listener, { key: honestKey, timeoutMs: 1000 }),
        'SECIO_ERR_HANDSHAKE_TIMEOUT',
        {
          phase: 'awaiting-nonce-echo',
          minMs: 1000,
          maxMs: 4000,
        },
      )
      await within(5000, dialer)
    } finally {
      m.close()
    }
  })
})

describe('hostile peers after the handshake', () => {
  /** An honest handshake through a proxy whose d2l frames from index 3 on are replaced by `inject`. */
  async function afterHandshake(inject: (frame: Buffer) => Buffer | null, code: SecioErrorCode, end = false) {
    let injected = false
    const m = await mitm((dir, i, frame) => {
      if (dir === 'd2l' && i >= 3) {
        injected = true
        return inject(frame)
      }
      return frame
    })
    try {
      const before = listenerCounts(m.listener)
      const [d, l] = await within(
        5000,
        Promise.all([handshake(m.dialer, { key: otherKey }), handshake(m.listener, { key: honestKey })]),
      )
      d.stream.on('error', () => {})
      const failed = new Promise<Error>((resolve) => l.stream.once('error', resolve))
      l.stream.resume()
      // With `end`, the FIN follows once the socket took the frame (TCP keeps the order).
      d.stream.write(Buffer.alloc(1000, 1), () => {
        if (end) m.dialer.end()
      })
      const err = await within(3000, failed, 'stream error')
      assert.ok(injected)
      assert.ok(err instanceof SecioError, String(err))
      assert.equal(err.code, code)
      await within(2000, new Promise((r) => (l.stream.closed ? r(null) : l.stream.once('close', r))))
      assert.equal(l.stream.destroyed, true)
      assert.equal(m.listener.destroyed, true, 'socket destroyed with the stream')
      const after = listenerCounts(m.listener)
      EVENTS.forEach((ev, i) =>
        assert.ok(after[i]! <= before[i]! + (ev === 'error' ? 1 : 0), `'${ev}' listeners ${before[i]} -> ${after[i]}`),
      )
      d.stream.destroy()
    } finally {
      m.close()
    }
  }

  test('tampered ciphertext → the stream fails with SECIO_ERR_DECRYPT_FAILED', async () => {
    await afterHandshake((f) => {
      f[10]! ^= 1
      return f
    }, 'SECIO_ERR_DECRYPT_FAILED')
  })

  test('a frame over the max length → SECIO_ERR_FRAME_TOO_LARGE on its header alone (nothing buffered)', async () => {
    await afterHandshake(() => {
      const h = Buffer.alloc(4)
      h.writeUInt32BE(8 * 1024 * 1024 + 1)
      return h // no body follows: the error must not wait for it
    }, 'SECIO_ERR_FRAME_TOO_LARGE')
  })

  test('an encrypted frame shorter than the tag → SECIO_ERR_FRAME_TOO_SHORT', async () => {
    await afterHandshake(() => encodeFrame(Buffer.alloc(8)), 'SECIO_ERR_FRAME_TOO_SHORT')
  })

  test('the connection ends inside an encrypted frame → SECIO_ERR_UNEXPECTED_EOF', async () => {
    await afterHandshake((f) => f.subarray(0, f.length - 5), 'SECIO_ERR_UNEXPECTED_EOF', true)
  })

  test('a replayed frame (nonce counter out of step) → SECIO_ERR_DECRYPT_FAILED', async () => {
    let first: Buffer | undefined
    await afterHandshake((f) => {
      if (first === undefined) {
        first = Buffer.from(f)
        return Buffer.concat([f, first])
      }
      return f
    }, 'SECIO_ERR_DECRYPT_FAILED')
  })
})
