// The selection deadline (§9.4): every protocol selection runs under the service
// timeout, on both sides, and the session's end ends the selections in progress.
// The session keeps one deadline timer for all its selections (protocol-select.ts,
// SelectionSet), so these tests pin what that timer must do:
// - a listener whose peer opens a stream and never sends its selection reports
//   "protocol selection: timed out" (TENTACLE_ERR_PROTOCOL_SELECT) after the timeout and
//   resets the stream; the session stays up;
// - a dialer whose peer never answers does the same;
// - selections started at different times each time out no earlier than their own
//   timeout after their start (one timer re-armed for the next deadline), and each does;
// - a selection in progress when the session ends is ended quietly (no error, stream gone).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import net from 'node:net'
import { encodeFrame, LengthDelimitedDecoder } from '@tentacle-ts/codec'
import { Session, type Stream } from '@tentacle-ts/yamux'
import { within } from '../../yamux/test/helpers.ts'
import { decodeProtocolInfo, encodeProtocolInfo } from '../src/protocol-info.js'
import { MAX_SELECT_FRAME, readOneFrame } from '../src/protocol-select.js'
import { Service } from '../src/service.js'
import type { ServiceErrorEvent } from '../src/types.js'

const TIMEOUT_MS = 300
/** Bounds every wait (generous: the machine may be loaded). */
const BOUND_MS = 10_000

/** Resolves with the stream's end as the peer sees it: the reset's code, or 'EOF'. */
async function endOf(s: Stream): Promise<string | undefined> {
  for (;;) {
    try {
      if ((await s.read()) === null) return 'EOF'
    } catch (err) {
      return (err as { code?: string }).code
    }
  }
}

/** A service's protocol-select-errors as they come, with the time each came. */
function errorLog(): {
  onError: (e: ServiceErrorEvent) => void
  next: () => Promise<{ message: string; code: string; at: number }>
  count: () => number
} {
  const got: Array<{ message: string; code: string; at: number }> = []
  let wake = (): void => {}
  return {
    onError: (e) => {
      if (e.type !== 'protocol-select-error') return
      got.push({ message: e.error.message, code: e.error.code, at: performance.now() })
      wake()
    },
    next: () =>
      within(
        new Promise((resolve) => {
          const take = (): void => {
            const e = got.shift()
            if (e === undefined) return
            wake = () => {}
            resolve(e)
          }
          wake = take
          take()
        }),
        BOUND_MS,
        'protocol-select-error',
      ),
    count: () => got.length,
  }
}

test('listener: a peer that opens streams and never selects gets each one reset at its own deadline; the session stays up', async () => {
  const log = errorLog()
  const service = new Service({
    protocols: [{ id: 1 }],
    config: { timeoutMs: TIMEOUT_MS },
    handler: { handleError: log.onError },
  })
  const addr = await service.listen('/ip4/127.0.0.1/tcp/0')
  const socket = net.connect(Number(addr.toString().split('/')[4]), '127.0.0.1')
  await once(socket, 'connect')
  const mux = new Session(socket, { role: 'client', enableKeepalive: false })
  /** A whole selection of /p2p/1 on a new stream; resolves with the answer. */
  const select = async (): Promise<unknown> => {
    const c = await mux.openStream()
    await c.write(encodeFrame(encodeProtocolInfo({ name: '/p2p/1', supportVersions: ['0.0.1'] })))
    const reply = await within(
      readOneFrame(c, new LengthDelimitedDecoder(MAX_SELECT_FRAME), new AbortController().signal),
      BOUND_MS,
      'the answer',
    )
    c.reset()
    return decodeProtocolInfo(reply)
  }
  try {
    // A protocol open: the session does not end at its own SessionTimeout (§12.2), which
    // would end the silent selections quietly.
    const open = await mux.openStream()
    await open.write(encodeFrame(encodeProtocolInfo({ name: '/p2p/1', supportVersions: ['0.0.1'] })))
    await within(
      readOneFrame(open, new LengthDelimitedDecoder(MAX_SELECT_FRAME), new AbortController().signal),
      BOUND_MS,
      'protocol 1 open',
    )
    const a = await mux.openStream()
    await a.write(new Uint8Array([0, 0])) // half a length prefix, then silence
    const aAt = performance.now()
    // The second selection starts well after the first: the one timer must fire for each.
    await new Promise((resolve) => setTimeout(resolve, TIMEOUT_MS / 2))
    const b = await mux.openStream()
    await b.write(new Uint8Array([0]))
    const bAt = performance.now()
    const [aEnd, bEnd] = [endOf(a), endOf(b)]
    const first = await log.next()
    const second = await log.next()
    for (const e of [first, second]) {
      assert.equal(e.code, 'TENTACLE_ERR_PROTOCOL_SELECT')
      assert.equal(e.message, 'protocol selection: timed out')
    }
    // Not before its own timeout (the clocks differ by less than a few ms).
    assert.ok(first.at - aAt >= TIMEOUT_MS - 5, `first after ${first.at - aAt} ms`)
    assert.ok(second.at - bAt >= TIMEOUT_MS - 5, `second after ${second.at - bAt} ms`)
    assert.equal(await within(aEnd, BOUND_MS, 'a reset'), 'YAMUX_ERR_STREAM_RESET')
    assert.equal(await within(bEnd, BOUND_MS, 'b reset'), 'YAMUX_ERR_STREAM_RESET')
    // The session is up and still answers selections (here: protocol 1 is open already, §9.4).
    assert.deepEqual(await select(), { name: '/p2p/1', supportVersions: ['0.0.1'] })
    assert.equal(log.count(), 0, 'one error per timed-out selection, no more')
  } finally {
    mux.destroy()
    await mux.closed
    await service.shutdown()
  }
})

test('dialer: a peer that takes the request and never answers: the selection times out, the stream is reset', async () => {
  const streams: Stream[] = []
  let gotStream!: () => void
  const accepted = new Promise<void>((resolve) => (gotStream = resolve))
  const server = net.createServer((socket) => {
    const mux = new Session(socket, { role: 'server', enableKeepalive: false })
    void (async () => {
      for (let s = await mux.accept(); s !== null; s = await mux.accept()) {
        const stream = s
        streams.push(stream)
        if (streams.length === 1) {
          // Protocol 1 is answered (an open protocol keeps the session from its SessionTimeout).
          readOneFrame(stream, new LengthDelimitedDecoder(MAX_SELECT_FRAME), new AbortController().signal)
            .then((f) => stream.write(encodeFrame(f)))
            .catch(() => stream.reset())
        } else gotStream() // protocol 2 is never answered
      }
    })()
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as net.AddressInfo).port
  const log = errorLog()
  const service = new Service({
    protocols: [{ id: 1 }, { id: 2 }],
    config: { timeoutMs: TIMEOUT_MS },
    handler: { handleError: log.onError },
  })
  try {
    const t0 = performance.now()
    const info = await within(service.dial(`/ip4/127.0.0.1/tcp/${port}`, { kind: 'all' }), BOUND_MS, 'dial')
    await within(accepted, BOUND_MS, 'the stream')
    const peerEnd = endOf(streams[1]!)
    const e = await log.next()
    assert.equal(e.code, 'TENTACLE_ERR_PROTOCOL_SELECT')
    assert.equal(e.message, 'protocol selection: timed out')
    assert.ok(e.at - t0 >= TIMEOUT_MS - 5, `after ${e.at - t0} ms`)
    assert.equal(await within(peerEnd, BOUND_MS, 'the reset'), 'YAMUX_ERR_STREAM_RESET')
    // The protocol can be opened again after the failed selection (it is no longer "opening").
    service.openProtocol(info.id, 2)
    await within(
      new Promise<void>((resolve) => {
        const check = (): void => (streams.length === 3 ? resolve() : void setTimeout(check, 10))
        check()
      }),
      BOUND_MS,
      'a second selection',
    )
  } finally {
    await service.shutdown()
    server.close()
    await within(once(server, 'close'), BOUND_MS, 'the raw listener closes')
  }
})

test('a selection in progress when the session ends is ended quietly: no error, the stream is gone, shutdown is prompt', async () => {
  const log = errorLog()
  const service = new Service({
    protocols: [{ id: 1 }],
    config: { timeoutMs: 60_000 },
    handler: { handleError: log.onError },
  })
  const addr = await service.listen('/ip4/127.0.0.1/tcp/0')
  const socket = net.connect(Number(addr.toString().split('/')[4]), '127.0.0.1')
  await once(socket, 'connect')
  const mux = new Session(socket, { role: 'client', enableKeepalive: false })
  try {
    const a = await mux.openStream()
    await a.write(new Uint8Array([0, 0, 0]))
    // The service has the stream (its ACK came back) before we end the connection.
    await within(
      new Promise<void>((resolve) => {
        const check = (): void => ([...service.sessions()].length === 1 ? resolve() : void setTimeout(check, 5))
        check()
      }),
      BOUND_MS,
      'the session',
    )
    const t0 = performance.now()
    await within(service.shutdown(), BOUND_MS, 'shutdown with a selection in progress')
    // Far below the 60 s selection timeout: nothing waited for it.
    assert.ok(performance.now() - t0 < 5_000)
    assert.notEqual(await within(endOf(a), BOUND_MS, 'the stream ends'), undefined)
    assert.equal(log.count(), 0, 'a selection ended by the session end is not reported')
  } finally {
    mux.destroy()
    await mux.closed
    await service.shutdown()
  }
})
