import { test } from 'node:test'
import assert from 'node:assert/strict'
import { SecioKeyPair } from '@tentacle-ts/secio'
import { Service } from '@tentacle-ts/tentacle'
import { ExampleProcess } from './child.js'

const DEADLINE_MS = 120_000

test('examples/chat.ts --script: 3 nodes meet through discovery from node 1 and every line reaches every other node', async () => {
  const chat = new ExampleProcess('chat', ['--script', '--nodes', '3', '--timeout-ms', '90000'], {
    deadlineMs: DEADLINE_MS,
  })
  try {
    const exit = await chat.exited
    assert.deepEqual(exit, { code: 0, signal: null }, chat.transcript())
    assert.ok(
      chat.lines.includes('chat: mesh complete, each of the 3 nodes is connected to the 2 others'),
      chat.transcript(),
    )
    // Nodes 2 and 3 were told only node 1's address: they met through discovery.
    assert.ok(
      chat.matching(/^node 2\| connected to node 3 /).length + chat.matching(/^node 3\| connected to node 2 /).length >=
        1,
      chat.transcript(),
    )
    for (let k = 1; k <= 3; k++) {
      for (let j = 1; j <= 3; j++) {
        const printed = chat.matching(new RegExp(`^node ${k}\\| <node${j}> hello from node ${j}$`))
        assert.equal(printed.length, k === j ? 0 : 1, `node ${k} printing node ${j}'s line\n${chat.transcript()}`)
      }
    }
    assert.ok(chat.lines.includes('chat: every node printed the line of every other node'), chat.transcript())
  } finally {
    await chat.kill()
  }
})

test('examples/chat.ts: lines typed on stdin are printed by the other nodes; end of input shuts down', async () => {
  const chat = new ExampleProcess('chat', ['--nodes', '3', '--timeout-ms', '90000'], { deadlineMs: DEADLINE_MS })
  try {
    await chat.waitForLine(/^chat: mesh complete/, 90_000)
    chat.type('hi from the test\n')
    await Promise.all([
      chat.waitForLine(/^node 2\| <node1> hi from the test$/),
      chat.waitForLine(/^node 3\| <node1> hi from the test$/),
    ])
    chat.type('@3 and from node three\n')
    await Promise.all([
      chat.waitForLine(/^node 1\| <node3> and from node three$/),
      chat.waitForLine(/^node 2\| <node3> and from node three$/),
    ])
    chat.type('/peers\n')
    await chat.waitForLine(/^node 1\| peer node [23] (inbound|outbound) \/ip4\/127\.0\.0\.1\//)
    chat.endInput()
    const exit = await chat.exited
    assert.deepEqual(exit, { code: 0, signal: null }, chat.transcript())
    assert.ok(chat.lines.includes('chat: end of input, shutting down'), chat.transcript())
    // A node does not print its own line, and nobody prints a line twice.
    assert.equal(chat.matching(/^node 1\| <node1> /).length, 0, chat.transcript())
    assert.equal(chat.matching(/<node1> hi from the test$/).length, 2, chat.transcript())
    assert.equal(chat.matching(/<node3> and from node three$/).length, 2, chat.transcript())
  } finally {
    await chat.kill()
  }
})

test('examples/chat.ts --single: three processes, two of them told only the first, chat across all three', async () => {
  const procs: ExampleProcess[] = []
  const start = (args: string[]): ExampleProcess => {
    const p = new ExampleProcess('chat', ['--single', ...args], { deadlineMs: DEADLINE_MS })
    procs.push(p)
    return p
  }
  try {
    const alice = start(['--nick', 'alice'])
    const [, boot] = await alice.waitForLine(/^alice listening on (\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/(Qm\w+))$/)
    const bob = start(['--nick', 'bob', '--bootnode', boot])
    const carol = start(['--nick', 'carol', '--bootnode', boot])
    const [, , bobId] = await bob.waitForLine(/^bob listening on (\/ip4\/\S+\/p2p\/(Qm\w+))$/)
    const [, , carolId] = await carol.waitForLine(/^carol listening on (\/ip4\/\S+\/p2p\/(Qm\w+))$/)
    // bob and carol know only alice; they connect to each other through discovery.
    await Promise.race([
      bob.waitForLine(new RegExp(`^connected to ${carolId} `), 90_000),
      carol.waitForLine(new RegExp(`^connected to ${bobId} `), 90_000),
    ])
    carol.type('hello everyone\n')
    await Promise.all([alice.waitForLine(/^<carol> hello everyone$/), bob.waitForLine(/^<carol> hello everyone$/)])
    for (const p of procs) p.endInput()
    const exits = await Promise.all(procs.map((p) => p.exited))
    for (const [i, e] of exits.entries()) assert.deepEqual(e, { code: 0, signal: null }, procs[i].transcript())
  } finally {
    await Promise.all(procs.map((p) => p.kill()))
  }
})

test('examples/chat.ts: a peer sending bytes that are not a ChatLine is dropped with the typed error; the chat goes on', async () => {
  const procs: ExampleProcess[] = []
  const start = (args: string[]): ExampleProcess => {
    const p = new ExampleProcess('chat', ['--single', ...args], { deadlineMs: DEADLINE_MS })
    procs.push(p)
    return p
  }
  // A peer that speaks the chat protocol's name but sends garbage.
  let garbageClosed!: () => void
  const closed = new Promise<void>((resolve) => (garbageClosed = resolve))
  const garbage = new Service({
    key: SecioKeyPair.generate(),
    protocols: [
      {
        id: 100,
        name: '/tentacle-ts/chat',
        versions: ['1'],
        handler: { connected: (ctx) => ctx.send(Uint8Array.from([0x0f, 0x01, 0x02])) },
      },
    ],
    handler: { handleEvent: (e) => (e.type === 'session-close' ? garbageClosed() : undefined) },
  })
  try {
    const alice = start(['--nick', 'alice'])
    const [, boot] = await alice.waitForLine(/^alice listening on (\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/Qm\w+)$/)
    const bob = start(['--nick', 'bob', '--bootnode', boot])
    await alice.waitForLine(/^connected to Qm\w+ \(inbound\)$/)
    await garbage.dial(boot, { kind: 'single', id: 100 })
    const gid = garbage.peerId ?? ''
    await alice.waitForLine(/^error: protocol-error TENTACLE_ERR_PROTOCOL_CODEC \(CODEC_ERR_MESSAGE_DECODE\): /)
    await alice.waitForLine(new RegExp(`^dropped ${gid}: protocol-error$`))
    await closed
    // Alice still chats with bob, both ways.
    bob.type('still talking\n')
    await alice.waitForLine(/^<bob> still talking$/)
    alice.type('me too\n')
    await bob.waitForLine(/^<alice> me too$/)
    for (const p of procs) p.endInput()
    const exits = await Promise.all(procs.map((p) => p.exited))
    for (const [i, e] of exits.entries()) assert.deepEqual(e, { code: 0, signal: null }, procs[i].transcript())
  } finally {
    await Promise.all([garbage.shutdown(), ...procs.map((p) => p.kill())])
  }
})
