// Kill tests for both roles (tentacle's test_kill, extended): a peer process
// dies by SIGKILL at each phase of a connection — TCP, each secio handshake
// step (§3.1), protocol selection (§9.2), the middle of a message (§10.1) —
// once as the dialer and once as the listener. The survivor (a Service in
// this process) must report it with a typed error code (or, once a session
// was open, close it and call `disconnected`), within a bound far below every
// timeout (10 s), and free everything: no connection counted, no session, no
// socket and no timer left beyond what it had before.
//
// Seen (2026-11-28): before the session opens the survivor reports
// ERR_HANDSHAKE_FAILED (handshake-error when it listened, dial-error plus a
// rejected dial() when it dialed); a listener killed during selection gives
// protocol-select-error ERR_PROTOCOL_SELECT; otherwise (the nonce echo already
// sent, selection or a message under way) the session opens and closes:
// session-close carries no error code (as in tentacle), `disconnected`
// follows `connected`, and half a message is never delivered.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { SecioKeyPair } from '@tentacle-ts/secio'
import { Service, TentacleError } from '@tentacle-ts/tentacle'

const PEER = fileURLToPath(new URL('./kill/peer.ts', import.meta.url))
const PHASES = ['tcp', 'propose', 'exchange', 'nonce', 'select', 'message'] as const
/** Far below the 10 s handshake/select/session timeouts that would also end things. */
const PROMPT_MS = 3_000

function resources(): { sockets: number; timers: number } {
  const r = process.getActiveResourcesInfo()
  return { sockets: r.filter((x) => x === 'TCPSocketWrap').length, timers: r.filter((x) => x === 'Timeout').length }
}

function spawnPeer(args: string[]): {
  child: ChildProcess
  line: (re: RegExp) => Promise<RegExpMatchArray>
  exited: Promise<void>
} {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', PEER, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let out = ''
  const waiters = new Set<() => void>()
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString()
    for (const w of [...waiters]) w()
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const line = (re: RegExp): Promise<RegExpMatchArray> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const m = re.exec(out)
        if (m === null) return
        waiters.delete(check)
        clearTimeout(timer)
        resolve(m)
      }
      const timer = setTimeout(() => {
        waiters.delete(check)
        reject(new Error(`peer ${args.join(' ')}: no ${re} within 20 s; stdout: ${out}`))
      }, 20_000)
      waiters.add(check)
      check()
    })
  return { child, line, exited }
}

interface Survivor {
  service: Service
  errors: { type: string; code: string }[]
  events: string[]
  protocol: string[]
  /** Resolves once `pred` holds, checked on every event; rejects after PROMPT_MS. */
  until(pred: () => boolean, what: string): Promise<number>
}

function survivor(): Survivor {
  const errors: Survivor['errors'] = []
  const events: string[] = []
  const protocol: string[] = []
  const wakers = new Set<() => void>()
  const wake = (): void => {
    for (const w of [...wakers]) w()
  }
  const service = new Service({
    key: SecioKeyPair.generate(),
    protocols: [
      {
        id: 1,
        handler: {
          connected: () => void (protocol.push('connected'), wake()),
          disconnected: () => void (protocol.push('disconnected'), wake()),
          received: () => void (protocol.push('received'), wake()),
        },
      },
    ],
    handler: {
      handleEvent: (e) => void (events.push(e.type), wake()),
      handleError: (e) => void (errors.push({ type: e.type, code: e.error.code }), wake()),
    },
  })
  const until = (pred: () => boolean, what: string): Promise<number> => {
    const t0 = performance.now()
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!pred()) return
        wakers.delete(check)
        clearTimeout(timer)
        clearInterval(poll)
        resolve(performance.now() - t0)
      }
      // Socket and timer release has no event of its own: look again every 20 ms as well.
      const poll = setInterval(check, 20)
      const timer = setTimeout(() => {
        wakers.delete(check)
        clearInterval(poll)
        reject(
          new Error(
            `not within ${PROMPT_MS} ms: ${what}; errors ${JSON.stringify(errors)}, events ${events}, protocol ${protocol}`,
          ),
        )
      }, PROMPT_MS)
      wakers.add(check)
      check()
    })
  }
  return { service, errors, events, protocol, until }
}

/** What the survivor must have said about the dead peer, by phase. */
function reported(s: Survivor, phase: (typeof PHASES)[number], dialError: unknown): boolean {
  const typed = (code: string | undefined): boolean => typeof code === 'string' && code.startsWith('ERR_')
  if (dialError !== undefined) return dialError instanceof TentacleError && typed(dialError.code)
  if (s.events.includes('session-open')) {
    // A session was up: it must be closed, and protocol 1, if it opened, disconnected.
    const closed = s.events.includes('session-close')
    const proto = !s.protocol.includes('connected') || s.protocol.includes('disconnected')
    return closed && proto && !s.protocol.includes('received')
  }
  // No session yet: a handshake (or dial) error with a code, and no session must appear later.
  return s.errors.some((e) => typed(e.code)) && phase !== 'select' && phase !== 'message'
}

for (const killed of ['dialer', 'listener'] as const) {
  for (const phase of PHASES) {
    test(
      `the ${killed} is SIGKILLed at "${phase}": the survivor reports it and frees everything`,
      { timeout: 30_000 },
      async () => {
        const s = survivor()
        let peer: ReturnType<typeof spawnPeer> | undefined
        let base = resources()
        let dialError: unknown
        try {
          if (killed === 'dialer') {
            const addr = await s.service.listen('/ip4/127.0.0.1/tcp/0')
            base = resources()
            peer = spawnPeer(['dial', addr.toString().split('/')[4]!, phase])
            await peer.line(/PHASE (\S+)/)
          } else {
            base = resources()
            peer = spawnPeer(['listen', phase])
            const m = await peer.line(/LISTENING (\d+) (\S+)/)
            const dialed = s.service.dial(`/ip4/127.0.0.1/tcp/${m[1]}/p2p/${m[2]}`).then(
              () => undefined,
              (err: unknown) => err,
            )
            await peer.line(/PHASE (\S+)/)
            dialError = await dialed
          }
          await peer.exited
          assert.equal(peer.child.signalCode, 'SIGKILL', 'the peer died by SIGKILL at its phase')
          await s.until(() => reported(s, phase, dialError), 'a typed error (or a closed session) reported')
          await s.until(
            () => {
              const r = resources()
              // Two of the timers are until()'s own (its deadline and its 20 ms look).
              return (
                s.service.connectionCount === 0 &&
                s.service.sessions().length === 0 &&
                r.sockets <= base.sockets &&
                r.timers - 2 <= base.timers
              )
            },
            `everything freed (connections ${s.service.connectionCount}, sessions ${s.service.sessions().length}, resources ${JSON.stringify(resources())} vs ${JSON.stringify(base)})`,
          )
          console.log(
            `# ${killed} killed at ${phase}: dial ${dialError instanceof TentacleError ? dialError.code : '-'}, errors ${JSON.stringify(s.errors)}, events ${s.events.join(',')}, protocol ${s.protocol.join(',')}`,
          )
        } finally {
          if (peer !== undefined && peer.child.exitCode === null && peer.child.signalCode === null) {
            peer.child.kill('SIGKILL')
            await peer.exited
          }
          await s.service.shutdown()
        }
      },
    )
  }
}
