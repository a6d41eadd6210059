import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { SecioKeyPair } from '@tentacle-ts/secio'
import { Service } from '../src/service.js'
import { serveMetrics } from '../src/metrics-server.js'

test('serveMetrics: /metrics is the service Prometheus text, JSON routes, 404, 405, and close() ends open connections', async () => {
  const service = new Service({ key: SecioKeyPair.generate(), protocols: [{ id: 1 }] })
  const server = await serveMetrics({
    port: 0,
    metrics: () => service.metrics.text(),
    json: { '/status': () => ({ peerId: service.peerId }) },
  })
  try {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/)
    const m = await fetch(server.url + '/metrics')
    assert.equal(m.status, 200)
    assert.match(m.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/)
    const text = await m.text()
    assert.match(text, /^# TYPE tentacle_sessions_open gauge$/m)
    assert.match(text, /^tentacle_handshakes_in_progress 0$/m)
    const s = await fetch(server.url + '/status')
    assert.equal(s.headers.get('content-type'), 'application/json')
    assert.deepEqual(await s.json(), { peerId: service.peerId })
    assert.equal((await fetch(server.url + '/nope')).status, 404)
    assert.equal((await fetch(server.url + '/metrics', { method: 'POST' })).status, 405)
    // An idle keep-alive connection must not hold close() up.
    const idle = net.connect(server.port, '127.0.0.1')
    await new Promise((r) => idle.once('connect', r))
    await server.close()
    await new Promise((r) => idle.once('close', r))
  } finally {
    await server.close()
    await service.close()
  }
})

test('serveMetrics: a port in use is TENTACLE_ERR_LISTEN_FAILED naming the address', async () => {
  const first = await serveMetrics({ port: 0, metrics: () => '' })
  try {
    await assert.rejects(serveMetrics({ port: first.port, metrics: () => '' }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'TENTACLE_ERR_LISTEN_FAILED')
      assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${first.port}: EADDRINUSE`))
      return true
    })
  } finally {
    await first.close()
  }
})
