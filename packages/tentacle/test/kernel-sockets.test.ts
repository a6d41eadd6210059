import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { readdirSync, readlinkSync } from 'node:fs'
import { kernelSockets } from '../src/kernel-sockets.js'

test('kernelSockets: a LISTEN row carries the inode that /proc/self/fd links to', async () => {
  const server = net.createServer()
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as net.AddressInfo).port
  try {
    const rows = (await kernelSockets(port)).filter((s) => s.state === 'LISTEN')
    assert.equal(rows.length, 1)
    assert.ok(rows[0].inode > 0)
    const mine = new Set<number>()
    for (const fd of readdirSync('/proc/self/fd')) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))
        if (m) mine.add(Number(m[1]))
      } catch {
        // fd closed meanwhile
      }
    }
    assert.ok(mine.has(rows[0].inode), 'our process owns the listening socket')
  } finally {
    await new Promise((r) => server.close(r))
  }
})
