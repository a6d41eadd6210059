// examples/simple.ts against tentacle's own `simple` example
// (tentacle/examples/simple.rs, built by test/interop/build.sh as `tentacle-simple`),
// in both roles. The Rust example only knows port 1337 and random keys, so
// both tests use 1337 and run one after the other; a busy port fails at once.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { fileURLToPath } from 'node:url'
import { binPath, killAll, spawnPeer, type PeerProcess } from './lib/index.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const PORT = 1337
/** Bound of every wait for a line (the delayed messages come 3 s after the session opens). */
const WAIT_MS = 10_000

/**
 * The Rust example, its log (stderr, RUST_LOG=info) read as stdout lines.
 * It neither reads stdin nor stops by itself, so `timeout` bounds its life
 * even if this test process dies; a SIGTERM from kill() is passed on to it.
 */
function rustSimple(role: 'server' | 'client'): Promise<PeerProcess> {
  const args = role === 'server' ? ['server'] : []
  return spawnPeer(
    '/bin/bash',
    ['-c', 'exec timeout -s KILL 60 "$@" 2>&1', 'bash', binPath('tentacle-simple'), ...args],
    {
      env: { RUST_LOG: 'info' },
      label: `rust simple ${role}`,
    },
  )
}

/** examples/simple.ts, bounded by its own --exit-after-ms. */
function tsSimple(role: 'server' | 'client'): Promise<PeerProcess> {
  const args = role === 'server' ? ['server'] : []
  return spawnPeer(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', 'examples/simple.ts', ...args, '--exit-after-ms', '30000'],
    {
      cwd: ROOT,
      label: `ts simple ${role}`,
    },
  )
}

/** Fails at once, with the reason, when something already listens on 127.0.0.1:1337. */
async function assertPortFree(): Promise<void> {
  const probe = net.createServer()
  try {
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject)
      probe.listen(PORT, '127.0.0.1', resolve)
    })
  } catch (err) {
    throw new Error(
      `127.0.0.1:${PORT} is busy (${(err as NodeJS.ErrnoException).code}); tentacle's simple example can only use port ${PORT}: ` +
        `stop whatever listens there (ss -ltnp 'sport = :${PORT}') and run again`,
      { cause: err },
    )
  } finally {
    await new Promise<void>((resolve) => (probe.listening ? probe.close(() => resolve()) : resolve()))
  }
}

// What each example prints (simple.rs uses Debug formats, simple.ts plain numbers).
const rustLines = {
  listening: /service event: ListenStarted \{ address: "\/ip4\/127\.0\.0\.1\/tcp\/1337" \}/,
  open: (id: number) => new RegExp(`proto id \\[ProtocolId\\(${id}\\)\\] open on session`),
  selectFailed: /service error: ProtocolSelectError \{ proto_name: Some\("\/p2p\/2"\)/,
  received: (id: number, text: string) =>
    new RegExp(`received from \\[SessionId\\(\\d+\\)\\]: proto \\[ProtocolId\\(${id}\\)\\] data "${text}"`),
}
const tsLines = {
  listening: /^service event: listen-started \/ip4\/127\.0\.0\.1\/tcp\/1337$/,
  open: (id: number) => new RegExp(`^proto id \\[${id}\\] open on session`),
  selectFailed: /^service error: protocol-select-error \/p2p\/2 TENTACLE_ERR_PROTOCOL_SELECT/,
  received: (id: number, text: string) => new RegExp(`^received from \\[\\d+\\]: proto \\[${id}\\] data "${text}"`),
}

/** Both sides open 0 and 1, fail /p2p/2, and get the other's interval (proto 1) and delayed (proto 0) messages. */
async function assertConversation(rust: PeerProcess, ts: PeerProcess): Promise<void> {
  const side = (p: PeerProcess, l: typeof rustLines) =>
    Promise.all([
      p.waitFor(l.open(0), WAIT_MS),
      p.waitFor(l.open(1), WAIT_MS),
      p.waitFor(l.selectFailed, WAIT_MS),
      p.waitFor(l.received(1, 'I am a interval message'), WAIT_MS),
      p.waitFor(l.received(0, 'I am a delayed message'), WAIT_MS),
    ])
  await Promise.all([side(rust, rustLines), side(ts, tsLines)])
  assert.ok(!rust.stdout.some((l) => rustLines.open(2).test(l)), 'protocol 2 never opens on the Rust side')
  assert.ok(!ts.stdout.some((l) => tsLines.open(2).test(l)), 'protocol 2 never opens on the TS side')
}

for (const server of ['rust', 'ts'] as const) {
  const [serverName, clientName] = server === 'rust' ? ['Rust', 'TS'] : ['TS', 'Rust']
  test(
    `${serverName} simple server <-> ${clientName} simple client: protocols 0 and 1 open, 2 fails selection, delayed messages both ways`,
    { timeout: 30_000 },
    async () => {
      await assertPortFree()
      let rust: PeerProcess | undefined
      let ts: PeerProcess | undefined
      try {
        if (server === 'rust') {
          rust = await rustSimple('server')
          await rust.waitFor(rustLines.listening, WAIT_MS)
          ts = await tsSimple('client')
        } else {
          ts = await tsSimple('server')
          await ts.waitFor(tsLines.listening, WAIT_MS)
          rust = await rustSimple('client')
        }
        await assertConversation(rust, ts)
      } finally {
        // The client first, then the server.
        await (server === 'rust' ? killAll(ts, rust) : killAll(rust, ts))
      }
      assert.ok(rust?.exit !== undefined && ts?.exit !== undefined, 'both processes reaped')
    },
  )
}
