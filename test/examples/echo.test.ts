import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ExampleProcess } from './child.js'

test('examples/echo.ts: alice gets every request back from bob, in order, and both exit', async () => {
  const echo = new ExampleProcess('echo', ['--count', '5'])
  try {
    const exit = await echo.exited
    assert.deepEqual(exit, { code: 0, signal: null }, echo.transcript())
    const replies = echo.matching(/^alice: echo reply /)
    assert.deepEqual(
      replies.map((l) => l.replace(/ in [\d.]+ ms$/, '')),
      [1, 2, 3, 4, 5].map((i) => `alice: echo reply ${i}/5: "hello #${i}"`),
      echo.transcript(),
    )
    assert.equal(echo.matching(/^bob: request from Qm\w+…: "hello #\d"$/).length, 5, echo.transcript())
    assert.ok(echo.lines.includes('echo: all 5 replies arrived'), echo.transcript())
  } finally {
    await echo.kill()
  }
})

test('examples/echo.ts: server and client as two processes', async () => {
  const server = new ExampleProcess('echo', ['server', '--port', '0'])
  let client: ExampleProcess | undefined
  try {
    const [, address] = await server.waitForLine(/^bob: listening on (\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/Qm\w+)$/)
    client = new ExampleProcess('echo', ['client', address, '--count', '2'])
    const exit = await client.exited
    assert.deepEqual(exit, { code: 0, signal: null }, client.transcript())
    assert.equal(client.matching(/^alice: echo reply \d\/2: "hello #\d"/).length, 2, client.transcript())
    await server.waitForLine(/^bob: request from Qm\w+…: "hello #2"$/)
  } finally {
    await Promise.all([server.kill(), client?.kill()])
  }
})
