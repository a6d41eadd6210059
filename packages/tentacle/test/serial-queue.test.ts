import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setImmediate as turn } from 'node:timers/promises'
import { SerialQueue } from '../src/serial-queue.js'
import { deferred, within } from './service-helpers.js'

test('tasks run one at a time in order, async ones holding the queue, across compactions of a long backlog', async () => {
  const errors: unknown[] = []
  const q = new SerialQueue((e) => errors.push(e))
  const ran: number[] = []
  let running = 0
  const gate = deferred()
  q.push(async () => {
    running++
    await gate.promise // everything below queues up behind this
    ran.push(-1)
    running--
  })
  for (let i = 0; i < 5000; i++) {
    q.push(
      i % 500 === 0
        ? async () => {
            assert.equal(running, 0)
            running++
            await turn() // holds the queue across an event-loop turn
            ran.push(i)
            running--
          }
        : () => {
            assert.equal(running, 0)
            ran.push(i)
          },
    )
  }
  const drained = deferred()
  q.push(() => drained.resolve())
  assert.deepEqual(ran, [], 'nothing ran past the held task')
  gate.resolve()
  await within(drained.promise, 10_000, `the queue drained (${ran.length} ran)`)
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
  const after = deferred()
  q.push(() => {
    ran.push('after')
    after.resolve()
  })
  await within(after.promise, 5000, 'the task after the failing ones')
  assert.deepEqual(errors, ['sync boom', 'async boom'])
  assert.deepEqual(ran, ['after'])
  const gate = deferred()
  const ended = deferred()
  q.push(
    () => gate.promise,
    () => ended.resolve(),
  )
  q.push(() => ran.push('dropped'))
  q.close()
  q.push(() => ran.push('after close'))
  gate.resolve()
  await within(ended.promise, 5000, 'the task running at close ends')
  await turn() // a queue that went on would have run the next task by now
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
    () => turn(),
    () => afters.push('resolved'),
  )
  const rejected = deferred()
  q.push(
    async () => {
      throw new Error('async boom')
    },
    () => {
      afters.push('rejected')
      rejected.resolve()
    },
  )
  await within(rejected.promise, 5000, 'the first four tasks')
  const gate = deferred()
  const runningAtClose = deferred()
  q.push(
    () => gate.promise,
    () => {
      afters.push('running at close')
      runningAtClose.resolve()
    },
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
  gate.resolve()
  await within(runningAtClose.promise, 5000, 'the task running at close ends')
  await turn()
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
