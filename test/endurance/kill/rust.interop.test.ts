// The kill matrix of ../kill.test.ts against a Rust tentacle 0.7.7 peer
// (interop driver tentacle-peer): {we dial, we listen} × the phase at which
// the Rust process is SIGKILLed. The Rust code is not changed: a tap in this
// process (tap.ts) forwards the bytes between the two, reads the Rust side's
// bytes, and SIGKILLs the Rust process once it forwarded them up to the
// phase's cut point; then it closes our side the way the dead process's
// socket closed (FIN or RST). Secio phases run with secio; selection and
// mid-message phases run the same peers in plaintext (tentacle's Noop
// handshake) so that the tap can read yamux and the protocol frames.
//
// For every cell the survivor (a Service in this process) must report a
// typed error before a session exists, otherwise `session-close` with the
// reason the connection was lost, promptly; free everything (no connection,
// session, handshake, socket, server or timer left); and open a new session
// afterwards.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { TentacleError, type SessionCloseReason } from '@tentacle-ts/tentacle'
import { TentaclePeer } from '../../interop/lib/index.js'
import { LOST, PROMPT_MS, Survivor, handles } from './survivor.js'
import { KillTap, type TapPhase } from './tap.js'

/** A cell's phase: where the tap cuts, or `frozen` (SIGSTOP, a message sent to it, then SIGKILL). */
type Phase = TapPhase | 'frozen'

const PHASES: readonly { phase: Phase; secio: boolean; label: string }[] = [
  { phase: 'tcp', secio: true, label: 'TCP connected, no byte of it forwarded' },
  { phase: 'propose', secio: true, label: 'after its Propose' },
  { phase: 'exchange', secio: true, label: 'after its Exchange, before its nonce echo' },
  { phase: 'nonce', secio: true, label: 'after its nonce echo' },
  { phase: 'secio-frame', secio: true, label: 'inside its first secio frame after the handshake' },
  { phase: 'select', secio: false, label: 'during protocol selection (plaintext)' },
  { phase: 'message', secio: false, label: 'inside a length-delimited message (plaintext)' },
  { phase: 'yamux-frame', secio: false, label: 'inside a yamux Data frame, mid-message (plaintext)' },
  { phase: 'idle', secio: true, label: 'idle after the protocol opened' },
  { phase: 'frozen', secio: true, label: 'frozen by SIGSTOP with our message unread in its kernel' },
]

const MESSAGE = new Uint8Array(1000).fill(0x5a)

/**
 * Resolves once every thread of `pid` is stopped (state T in /proc): a signal is delivered
 * asynchronously, and a thread still running could read what we send next. Looks again once
 * per event-loop turn, at most 2000 turns.
 */
async function stopped(pid: number): Promise<void> {
  const states = (): string[] =>
    readdirSync(`/proc/${pid}/task`).map((t) => {
      const stat = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8')
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
    })
  for (let turn = 0; turn < 2000; turn++) {
    if (states().every((st) => st === 'T' || st === 't')) return
    await new Promise((resolve) => setImmediate(resolve))
  }
  throw new Error(`process ${pid} not stopped: thread states ${states().join('')}`)
}

/** The reasons a cell may end with, once a session was open. */
function allowedReasons(phase: Phase, peerClosed: 'fin' | 'reset' | undefined): readonly SessionCloseReason[] {
  switch (phase) {
    case 'message':
    case 'yamux-frame':
      // Half a message sits in the protocol's decoder whatever the connection's end was.
      return ['truncated']
    case 'secio-frame':
      // A FIN inside a secio frame is seen as such; a reset says only that the connection was reset.
      return peerClosed === 'fin' ? ['truncated'] : ['connection-reset']
    case 'frozen':
      // It dies with unread bytes: its kernel answers with RST, which the tap passes on.
      return ['connection-reset']
    default:
      return LOST.filter((r) => r !== 'truncated')
  }
}

for (const weAre of ['dialer', 'listener'] as const) {
  for (const { phase, secio, label } of PHASES) {
    test(
      `Rust tentacle as ${weAre === 'dialer' ? 'listener' : 'dialer'}, SIGKILLed at "${phase}" (${label}): we report it, free everything and still work`,
      { timeout: 60_000 },
      async (t) => {
        // In the mid-message phases we send a message as soon as protocol 1 opens: the Rust peer echoes it.
        const midMessage = phase === 'message' || phase === 'yamux-frame'
        const s = new Survivor({ secio, onConnected: midMessage ? (send) => send(MESSAGE) : undefined })
        let rust: TentaclePeer | undefined
        let tap: KillTap | undefined
        let dialError: unknown
        let listenAddress: string | undefined
        let cutAt = 0
        const tapPhase: TapPhase = phase === 'frozen' ? 'idle' : phase
        const common = ['--protocol', '1', '--echo', ...(secio ? [] : ['--plaintext'])]
        try {
          if (weAre === 'listener') listenAddress = (await s.service.listen('/ip4/127.0.0.1/tcp/0')).toString()
          const base = handles()
          // The tap may cut before TentaclePeer.start() returns (a dialing peer connects at once).
          let cutBeforeStart = false
          const onCut = (): void => {
            cutAt = performance.now()
            if (rust === undefined) cutBeforeStart = true
            else rust.process.killNow()
          }
          if (weAre === 'dialer') {
            rust = await TentaclePeer.start(['--listen', '/ip4/127.0.0.1/tcp/0', ...common])
            tap = new KillTap({
              target: { host: '127.0.0.1', port: rust.port! },
              peerIs: 'target',
              phase: tapPhase,
              onCut,
            })
            const port = await tap.listen()
            dialError = await s.service.dial(`/ip4/127.0.0.1/tcp/${port}${secio ? `/p2p/${rust.peerId}` : ''}`).then(
              () => undefined,
              (err: unknown) => err,
            )
          } else {
            const port = Number(listenAddress!.split('/')[4])
            tap = new KillTap({ target: { host: '127.0.0.1', port }, peerIs: 'accepted', phase: tapPhase, onCut })
            const tapPort = await tap.listen()
            const suffix = secio ? `/p2p/${s.service.peerId!}` : ''
            rust = await TentaclePeer.start(['--dial', `/ip4/127.0.0.1/tcp/${tapPort}${suffix}`, ...common])
          }
          if (cutBeforeStart) rust.process.killNow()
          if (phase === 'idle' || phase === 'frozen') {
            await s.until(() => s.protocol.includes('connected'), 'protocol 1 open', 15_000)
            await rust.waitEvent('protocol_open', { proto: 1 })
            if (phase === 'frozen') {
              process.kill(rust.process.pid!, 'SIGSTOP')
              await stopped(rust.process.pid!)
              const handedOver = tap.nextToPeer()
              s.service.send(s.service.sessions()[0]!.id, 1, MESSAGE)
              await handedOver
            }
            tap.cutNow()
          }
          const exit = await rust.process.waitExit(10_000)
          assert.equal(exit.signal, 'SIGKILL', 'the Rust peer died by SIGKILL at the cut')
          const ms = await s.reported()
          const sinceCut = performance.now() - cutAt
          const peerClosed = tap.peerClosed
          await tap.close()

          if (phase === 'tcp' || phase === 'propose' || phase === 'exchange') {
            assert.ok(!s.events.includes('session-open'), 'no session before the nonce echo')
            if (weAre === 'dialer') {
              assert.ok(dialError instanceof TentacleError, 'dial() rejects with a TentacleError')
              assert.equal(dialError.code, 'TENTACLE_ERR_HANDSHAKE_FAILED')
            }
            const want = weAre === 'dialer' ? 'dial-error' : 'handshake-error'
            assert.deepEqual(s.errors, [{ type: want, code: 'TENTACLE_ERR_HANDSHAKE_FAILED' }], s.describe())
          } else {
            assert.equal(dialError, undefined, 'dial() resolved: the session opened')
            assert.deepEqual(
              s.events.filter((e) => e.startsWith('session-')),
              ['session-open', 'session-close'],
            )
            const { reason, code } = s.closes[0]!
            const allowed = allowedReasons(phase, peerClosed)
            assert.ok(
              allowed.includes(reason),
              `session-close reason ${reason} (peer's socket closed by ${peerClosed}), expected one of ${allowed.join(', ')}; ${s.describe()}`,
            )
            assert.equal(code, 'TENTACLE_ERR_CONNECTION_LOST', 'session-close carries the typed error')
            assert.ok(!s.protocol.includes('received'), 'half a message is never delivered')
            if (phase === 'message' || phase === 'yamux-frame' || phase === 'idle' || phase === 'frozen') {
              assert.deepEqual(s.protocol, ['connected', 'disconnected'])
            } else if (phase === 'select') {
              assert.deepEqual(s.protocol, [], 'selection never finished')
            }
            const other = s.errors.filter((e) => e.type !== 'protocol-select-error')
            assert.deepEqual(other, [], 'a lost connection is reported by session-close only')
            if (phase === 'select' && weAre === 'dialer') {
              // We asked for protocol 1; the answer never came.
              assert.deepEqual(s.errors, [{ type: 'protocol-select-error', code: 'TENTACLE_ERR_PROTOCOL_SELECT' }])
            }
          }
          await s.freed(base)
          t.diagnostic(
            `reported ${ms.toFixed(0)} ms after its exit was seen (${sinceCut.toFixed(0)} ms after the cut), Rust's socket closed by ${peerClosed}, ${tap.forwarded} of its bytes forwarded; ${s.describe()}`,
          )
          assert.ok(sinceCut < PROMPT_MS, `reported ${sinceCut.toFixed(0)} ms after the cut`)
          await s.stillWorks(listenAddress)
          await s.freed(base)
        } finally {
          await rust?.kill()
          await tap?.close()
          await s.service.shutdown()
        }
      },
    )
  }
}
