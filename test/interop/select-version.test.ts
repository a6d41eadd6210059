// Version selection (§9.3) against real Rust tentacle 0.7.7, both ways: the side that
// accepts the stream chooses with `select_version` (Rust's String order, "10" < "9"),
// the opener takes the answer. Each case is one protocol of one session; expected
// versions are written out, and must also be what tentacle-ts's selectVersion says.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { SecioKeyPair } from '@tentacle-ts/secio'
import { selectVersion, Service, type ServiceErrorEvent, type ServiceEvent } from '@tentacle-ts/tentacle'
import { TentaclePeer } from './lib/index.js'

interface Case {
  rust: string[]
  ts: string[]
  /** The version both sides open with, or undefined when selection fails on both. */
  want: string | undefined
}

const CASES: Case[] = [
  { rust: ['9', '10'], ts: ['9'], want: undefined }, // "10" < "9": the walk passes the common "9"
  { rust: ['10', '9'], ts: ['10', '9'], want: '9' },
  { rust: ['1.9', '1.10'], ts: ['1.9', '1.10'], want: '1.10' }, // equal last entries match at once
  { rust: ['1.10', '1.9'], ts: ['1.9'], want: '1.9' },
  { rust: ['1.9', '1.10'], ts: ['1.8', '1.9'], want: undefined },
  { rust: ['\uffff', '\u{10000}'], ts: ['\uffff'], want: '\uffff' }, // UTF-8 order, not UTF-16
  { rust: ['1', '2', '2'], ts: ['2'], want: '2' },
  { rust: ['0.0.1', '1.0.0', '2.0.0'], ts: ['1.0.0', '3.0.0'], want: '1.0.0' },
  { rust: ['5.0.0'], ts: ['1.0.0'], want: undefined },
]
const nameOf = (i: number): string => `/select-version/${i + 1}`
/** tentacle-peer's `--protocol ID:NAME:V1,V2` for every case. */
const rustProtocolArgs = (): string[] =>
  CASES.flatMap((c, i) => ['--protocol', `${i + 1}:${nameOf(i)}:${c.rust.join(',')}`])

function tsService() {
  const opened = new Map<string, string>()
  const failed = new Set<string>()
  const events: Array<ServiceEvent | ServiceErrorEvent> = []
  let wake = (): void => {}
  const service = new Service({
    key: SecioKeyPair.generate(),
    protocols: CASES.map((c, i) => ({
      id: i + 1,
      name: nameOf(i),
      versions: c.ts,
      handler: {
        connected: (_ctx: unknown, version: string) => {
          opened.set(nameOf(i), version)
          wake()
        },
      },
    })),
    handler: {
      handleEvent: (e) => {
        events.push(e)
      },
      handleError: (e) => {
        events.push(e)
        if (e.type === 'protocol-select-error' && e.protoName !== undefined) failed.add(e.protoName)
        wake()
      },
    },
  })
  /** Resolves once every case has opened or failed on this side. */
  const settled = (ms: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `timed out: opened ${[...opened.keys()]}, failed ${[...failed]}; events ${events.map((e) => e.type)}`,
            ),
          ),
        ms,
      )
      wake = () => {
        if (opened.size + failed.size < CASES.length) return
        clearTimeout(timer)
        resolve()
      }
      wake()
    })
  return { service, opened, failed, settled }
}

/** What Rust reported per protocol name: its opened version, or 'failed'. */
async function rustOutcomes(rust: TentaclePeer): Promise<Map<string, string>> {
  type Outcome =
    { event: 'protocol_open'; name: string; version: string } | { event: 'protocol_select_error'; name: string | null }
  const out = new Map<string, string>()
  while (out.size < CASES.length) {
    const line = await rust.process.waitFor((l) => /"event":"protocol_(open|select_error)"/.test(l), 15_000)
    const e = JSON.parse(line) as Outcome
    assert.ok(e.name !== null, `a selection error without a name: ${line}`)
    out.set(e.name, e.event === 'protocol_open' ? e.version : 'failed')
  }
  return out
}

function check(opened: Map<string, string>, failed: Set<string>, rust: Map<string, string>, tsChooses: boolean): void {
  CASES.forEach((c, i) => {
    const name = nameOf(i)
    const ours = tsChooses ? selectVersion(c.ts, c.rust) : selectVersion(c.rust, c.ts)
    assert.equal(ours, c.want, `selectVersion agrees with the written-out case ${name}`)
    assert.equal(opened.get(name), c.want, `${name} on tentacle-ts (${JSON.stringify(c)})`)
    assert.equal(failed.has(name), c.want === undefined, `${name}: selection error on tentacle-ts`)
    assert.equal(rust.get(name), c.want ?? 'failed', `${name} on Rust (${JSON.stringify(c)})`)
  })
}

test('tentacle-ts dials Rust: Rust chooses with its String order and tentacle-ts opens what it chose', async () => {
  const rust = await TentaclePeer.start(['--listen', '/ip4/127.0.0.1/tcp/0', ...rustProtocolArgs()])
  const ts = tsService()
  try {
    await ts.service.dial(rust.dialAddress)
    await ts.settled(15_000)
    check(ts.opened, ts.failed, await rustOutcomes(rust), false)
  } finally {
    try {
      await ts.service.shutdown()
    } finally {
      await rust.kill()
    }
  }
})

test('Rust dials tentacle-ts: tentacle-ts chooses as Rust would, and Rust opens what it chose', async () => {
  const ts = tsService()
  let rust: TentaclePeer | undefined
  try {
    const addr = await ts.service.listen('/ip4/127.0.0.1/tcp/0')
    rust = await TentaclePeer.start(['--dial', addr.toString(), ...rustProtocolArgs()])
    await ts.settled(15_000)
    check(ts.opened, ts.failed, await rustOutcomes(rust), true)
  } finally {
    try {
      await ts.service.shutdown()
    } finally {
      await rust?.kill()
    }
  }
})
