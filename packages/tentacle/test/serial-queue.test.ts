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

test('a task pushed from inside a running synchronous task waits for it (tasks never overlap)', () => {
  const q = new SerialQueue((e) => assert.fail(String(e)))
  const log: string[] = []
  q.push(
    () => {
      log.push('outer start')
      q.push(
        () => log.push('inner'),
        () => log.push('inner after'),
      )
      log.push('outer end')
    },
    () => log.push('outer after'),
  )
  assert.deepEqual(log, ['outer start', 'outer end', 'outer after', 'inner', 'inner after'])
})

test('call(): runs fn with its this and two arguments, then tells the listener once with its number, on every path', async () => {
  const errors: string[] = []
  const q = new SerialQueue((e) => errors.push((e as Error).message))
  const told: number[] = []
  const listener = { taskDone: (n: number) => told.push(n) }
  const handler = {
    name: 'h',
    received(this: { name: string }, ctx: string, data: number): unknown {
      if (data === 2) throw new Error('sync boom')
      if (data === 3) return Promise.reject(new Error('async boom'))
      if (data === 4) return new Promise<void>((resolve) => setImmediate(resolve))
      seen.push(`${this.name}:${ctx}:${data}`)
      return undefined
    },
  }
  const seen: string[] = []
  q.call(handler.received, handler, 'ctx', 1, listener, 10)
  assert.deepEqual(told, [10], 'a synchronous task on an idle queue is over before call() returns')
  q.call(handler.received, handler, 'ctx', 2, listener, 20)
  q.call(handler.received, handler, 'ctx', 3, listener, 30)
  q.call(handler.received, handler, 'ctx', 4, listener, 40)
  q.call(handler.received, handler, 'ctx', 5, listener, 50)
  q.call(handler.received, handler, 'ctx', 6, listener, 60)
  assert.deepEqual(told, [10, 20], 'a task returning a promise (here: rejected) holds the queue until it settles')
  // Settle: a done barrier pushed behind everything.
  await new Promise<void>((resolve) => q.push(() => undefined, resolve))
  assert.deepEqual(told, [10, 20, 30, 40, 50, 60])
  assert.deepEqual(seen, ['h:ctx:1', 'h:ctx:5', 'h:ctx:6'])
  assert.deepEqual(errors, ['sync boom', 'async boom'])
  // Dropped by close() and pushed after close(): told too, fn not run.
  q.call(handler.received, handler, 'ctx', 4, listener, 70)
  q.call(handler.received, handler, 'ctx', 7, listener, 80)
  q.close()
  q.call(handler.received, handler, 'ctx', 8, listener, 90)
  assert.deepEqual(told.slice(6), [80, 90])
  await new Promise((resolve) => setImmediate(resolve))
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(told.slice(6), [80, 90, 70], 'the task running at close() is told when it ends')
  assert.deepEqual(seen, ['h:ctx:1', 'h:ctx:5', 'h:ctx:6'])
})
