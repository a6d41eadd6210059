import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { SerialQueue } from '../src/serial-queue.js'

test('tasks run one at a time in order, async ones holding the queue, across compactions of a long backlog', async () => {
  const errors: unknown[] = []
  const q = new SerialQueue((e) => errors.push(e))
  const ran: number[] = []
  let running = 0
  q.push(async () => {
    running++
    await sleep(20) // everything below queues up behind this
    ran.push(-1)
    running--
  })
  for (let i = 0; i < 5000; i++) {
    q.push(
      i % 500 === 0
        ? async () => {
            assert.equal(running, 0)
            running++
            await sleep(1)
            ran.push(i)
            running--
          }
        : () => {
            assert.equal(running, 0)
            ran.push(i)
          },
    )
  }
  for (let k = 0; k < 500 && ran.length < 5001; k++) await sleep(10)
  assert.deepEqual(ran, [-1, ...Array.from({ length: 5000 }, (_, i) => i)])
  assert.deepEqual(errors, [])
})

test('a throwing or rejecting task is reported and the queue goes on; close() drops what waits', async () => {
  const errors: string[] = []
  const q = new SerialQueue((e) => errors.push((e as Error).message))
  const ran: string[] = []
  q.push(() => {
    throw new Error('sync boom')
  })
  q.push(async () => {
    throw new Error('async boom')
  })
  q.push(() => ran.push('after'))
  await sleep(5)
  assert.deepEqual(errors, ['sync boom', 'async boom'])
  assert.deepEqual(ran, ['after'])
  q.push(() => sleep(20))
  q.push(() => ran.push('dropped'))
  q.close()
  q.push(() => ran.push('after close'))
  await sleep(40)
  assert.deepEqual(ran, ['after'])
})

test('after is called once for every task however it ends: returned, threw, resolved, rejected, dropped by close(), pushed after close()', async () => {
  const errors: string[] = []
  const q = new SerialQueue((e) => errors.push((e as Error).message))
  const afters: string[] = []
  q.push(
    () => 1,
    () => afters.push('returned'),
  )
  q.push(
    () => {
      throw new Error('sync boom')
    },
    () => afters.push('threw'),
  )
  q.push(
    () => sleep(5),
    () => afters.push('resolved'),
  )
  q.push(
    async () => {
      throw new Error('async boom')
    },
    () => afters.push('rejected'),
  )
  await sleep(20)
  q.push(
    () => sleep(20),
    () => afters.push('running at close'),
  )
  q.push(
    () => afters.push('must not run'),
    () => afters.push('dropped'),
  )
  q.close()
  q.push(
    () => afters.push('must not run'),
    () => afters.push('pushed after close'),
  )
  await sleep(40)
  assert.deepEqual(afters, [
    'returned',
    'threw',
    'resolved',
    'rejected',
    'dropped',
    'pushed after close',
    'running at close',
  ])
  assert.deepEqual(errors, ['sync boom', 'async boom'])
})
