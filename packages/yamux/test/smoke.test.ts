import { test } from 'node:test'
import assert from 'node:assert/strict'
import { sessionPair, readAll, random, within } from './helpers.js'

for (const transport of ['memory', 'tcp'] as const) {
  test(`echo one stream (${transport})`, async () => {
    const { client, server, cleanup } = await sessionPair(transport)
    try {
      const serverSide = (async () => {
        const s = await server.accept()
        assert.ok(s)
        const data = await readAll(s)
        await s.write(data)
        await s.close()
      })()
      const s = await client.openStream()
      const payload = random(1024 * 1024)
      const reading = readAll(s)
      await s.write(payload)
      await s.close()
      const back = await within(reading, 10_000, 'echo')
      assert.ok(back.equals(payload))
      await within(serverSide, 5000, 'server side')
      assert.equal(client.streamCount, 0)
      assert.equal(server.streamCount, 0)
    } finally {
      await cleanup()
    }
  })
}
