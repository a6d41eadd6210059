// Block send: one node streams many 4 KiB messages, the other acknowledges
// each, as tentacle's examples/block_send.rs does (there the listener sends
// 1024 messages of about 4 KB as soon as the protocol opens and the dialer
// answers every one with "xx-<n>").
//
//   node --conditions=source --import tsx examples/block-send.ts [--count N] [--size BYTES] [--plaintext]
//
// The sender honours backpressure: it awaits sendAsync() for each block, which
// settles once the block was handed to yamux, and yamux makes it wait whenever
// the receiver's stream window (256 KiB by default) is used up. So memory stays
// bounded however many blocks are sent, and a slow receiver slows the sender.
// At the end it prints the rate and the most blocks that were ever sent but not
// yet acknowledged.
import { parseArgs } from 'node:util'
import { SecioKeyPair } from '@tentacle-ts/secio'
import { Service, type ProtocolSessionContext } from '@tentacle-ts/tentacle'

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '1024' },
    size: { type: 'string', default: '4096' },
    plaintext: { type: 'boolean', default: false },
  },
})
const COUNT = Number(values.count)
const SIZE = Number(values.size)
if (!Number.isInteger(COUNT) || COUNT < 1 || !Number.isInteger(SIZE) || SIZE < 8) {
  console.error('usage: block-send.ts [--count N>=1] [--size BYTES>=8] [--plaintext]')
  process.exit(2)
}
const PROTO = { id: 1, name: '/tentacle-ts/block-send', versions: ['1.0.0'] }

// A block: u32be sequence number, u32be checksum of the rest, then filler.
function makeBlock(seq: number): Uint8Array {
  const block = new Uint8Array(SIZE)
  for (let i = 8; i < SIZE; i++) block[i] = (seq + i) & 0xff
  const view = new DataView(block.buffer)
  view.setUint32(0, seq)
  view.setUint32(4, checksum(block))
  return block
}
function checksum(block: Uint8Array): number {
  let sum = 0
  for (let i = 8; i < block.length; i++) sum = (sum * 31 + block[i]) >>> 0
  return sum
}

const key = (): SecioKeyPair | undefined => (values.plaintext ? undefined : SecioKeyPair.generate())
let finish!: (ok: boolean) => void
const finished = new Promise<boolean>((resolve) => (finish = resolve))
const fail = (why: string): void => {
  console.error(`block-send: ${why}`)
  finish(false)
}

// The listener sends, as in block_send.rs.
let sent = 0
let acked = 0
let maxUnacked = 0
let startedAt = 0
const sender = new Service({
  key: key(),
  protocols: [
    {
      ...PROTO,
      handler: {
        connected(ctx: ProtocolSessionContext) {
          startedAt = performance.now()
          // Not awaited here: this handler's calls run one at a time, so a
          // connected() that awaited every block would hold back received()
          // and the acks would wait for the last block.
          void sendAll(ctx).catch((err: Error) => fail(`sending stopped: ${err.message}`))
        },
        received(_ctx, data) {
          const ack = new TextDecoder().decode(data)
          if (ack !== `ack-${acked}`) return fail(`expected ack-${acked}, got ${JSON.stringify(ack)}`)
          acked++
          if (acked % 256 === 0 || acked === COUNT) console.log(`sender: acknowledged ${acked}/${COUNT}`)
          if (acked === COUNT) finish(true)
        },
        disconnected() {
          if (acked < COUNT) fail(`session closed after ${acked} acks`)
        },
      },
    },
  ],
  handler: { handleError: (e) => fail(`sender ${e.type} ${e.error.code}: ${e.error.message}`) },
})

async function sendAll(ctx: ProtocolSessionContext): Promise<void> {
  for (let seq = 0; seq < COUNT; seq++) {
    if (!(await ctx.sendAsync(makeBlock(seq)))) throw new Error(`block ${seq} was dropped (protocol closed)`)
    sent++
    maxUnacked = Math.max(maxUnacked, sent - acked)
  }
  console.log(`sender: all ${COUNT} blocks handed to yamux`)
}

// The dialer checks every block and acknowledges it.
let received = 0
const receiver = new Service({
  key: key(),
  protocols: [
    {
      ...PROTO,
      handler: {
        received(ctx, block) {
          const view = new DataView(block.buffer, block.byteOffset, block.byteLength)
          if (block.length !== SIZE) return fail(`block ${received} has ${block.length} bytes, expected ${SIZE}`)
          if (view.getUint32(0) !== received) return fail(`expected block ${received}, got ${view.getUint32(0)}`)
          if (view.getUint32(4) !== checksum(block)) return fail(`block ${received} is corrupt`)
          ctx.send(new TextEncoder().encode(`ack-${received}`))
          received++
        },
      },
    },
  ],
  handler: { handleError: (e) => fail(`receiver ${e.type} ${e.error.code}: ${e.error.message}`) },
})

const addr = await sender.listen('/ip4/127.0.0.1/tcp/0')
console.log(
  `sender: listening on ${addr.toString()} (${values.plaintext ? 'plaintext yamux' : 'secio'}), ${COUNT} blocks of ${SIZE} bytes`,
)
await receiver.dial(values.plaintext ? addr : addr.encapsulate(`/p2p/${sender.peerId}`))
const ok = await finished
const seconds = (performance.now() - startedAt) / 1000
await Promise.all([receiver.close(), sender.close()])
if (ok) {
  const mib = (COUNT * SIZE) / (1024 * 1024)
  console.log(`receiver: got ${received} blocks, every one in order and intact`)
  console.log(
    `block-send: ${COUNT} blocks of ${SIZE} bytes sent and acknowledged in ${seconds.toFixed(3)} s: ` +
      `${Math.round(COUNT / seconds)} blocks/s, ${(mib / seconds).toFixed(1)} MiB/s; at most ${maxUnacked} blocks unacknowledged`,
  )
}
process.exitCode = ok ? 0 : 1
