// Fifo: the shared internal queue. Checked against an array model with
// fast-check (every operation, any interleaving), plus the memory promises:
// taken items are not kept, the slots shrink after a burst.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { Fifo } from '../src/index.js'

type Op =
  | { op: 'push'; v: number }
  | { op: 'pushMany'; n: number }
  | { op: 'shift' }
  | { op: 'shiftMany'; n: number }
  | { op: 'peek' }
  | { op: 'at'; i: number }
  | { op: 'replaceHead'; v: number }
  | { op: 'clear' }
  | { op: 'takeAll' }
  | { op: 'iterate' }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('push' as const), v: fc.integer() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('pushMany' as const), n: fc.integer({ min: 1, max: 300 }) }) },
  { weight: 5, arbitrary: fc.constant({ op: 'shift' as const }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('shiftMany' as const), n: fc.integer({ min: 1, max: 300 }) }) },
  { weight: 2, arbitrary: fc.constant({ op: 'peek' as const }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('at' as const), i: fc.integer({ min: -2, max: 40 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('replaceHead' as const), v: fc.integer() }) },
  { weight: 1, arbitrary: fc.constant({ op: 'clear' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'takeAll' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'iterate' as const }) },
)

let counter = 0

/** The slots a Fifo allocates for `min` (the next power of two, at least 2). */
function minSlots(min: number): number {
  let c = 2
  while (c < min) c *= 2
  return c
}

/** Applies `op` to the queue and the model; asserts they answer alike. */
function apply(q: Fifo<number>, model: number[], o: Op): void {
  switch (o.op) {
    case 'push':
      q.push(o.v)
      model.push(o.v)
      break
    case 'pushMany':
      for (let i = 0; i < o.n; i++) {
        const v = counter++
        q.push(v)
        model.push(v)
      }
      break
    case 'shift':
      assert.equal(q.shift(), model.shift())
      break
    case 'shiftMany':
      for (let i = 0; i < o.n; i++) assert.equal(q.shift(), model.shift())
      break
    case 'peek':
      assert.equal(q.peek(), model[0])
      break
    case 'at':
      assert.equal(q.at(o.i), o.i >= 0 ? model[o.i] : undefined)
      break
    case 'replaceHead':
      if (model.length === 0) assert.throws(() => q.replaceHead(o.v), RangeError)
      else {
        q.replaceHead(o.v)
        model[0] = o.v
      }
      break
    case 'clear':
      q.clear()
      model.length = 0
      break
    case 'takeAll':
      assert.deepEqual(q.takeAll(), model.splice(0))
      break
    case 'iterate':
      assert.deepEqual([...q], model)
      break
  }
  assert.equal(q.length, model.length)
}

describe('Fifo', () => {
  test('behaves like an array used as a queue, for any sequence of operations', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.array(opArb, { maxLength: 200 }), (min, ops) => {
        const q = new Fifo<number>(min)
        const model: number[] = []
        for (const o of ops) {
          apply(q, model, o)
          // Memory: never more than 4× the items (or 4× the minimum), a power of two.
          const cap = q.capacity
          assert.ok(cap === 0 || (cap & (cap - 1)) === 0, `capacity ${cap} is a power of two`)
          assert.ok(cap <= 4 * Math.max(minSlots(min), model.length), `capacity ${cap} for ${model.length} items`)
        }
      }),
      { numRuns: 300 },
    )
  })

  test('order is kept across wrap-around, growth and shrinking', () => {
    const q = new Fifo<number>(4)
    let next = 0
    let expect = 0
    // Interleave pushes and shifts so the head wraps many times at several capacities.
    for (let round = 0; round < 50; round++) {
      const burst = (round * 7) % 23
      for (let i = 0; i < burst; i++) q.push(next++)
      const take = Math.min(q.length, (round * 5) % 19)
      for (let i = 0; i < take; i++) assert.equal(q.shift(), expect++)
    }
    while (q.length > 0) assert.equal(q.shift(), expect++)
    assert.equal(expect, next)
    assert.equal(q.shift(), undefined)
  })

  test('allocates nothing until the first push; gives back the slots of a burst', () => {
    const q = new Fifo<number>(8)
    assert.equal(q.capacity, 0)
    q.push(1)
    assert.equal(q.capacity, 8)
    q.shift()
    assert.equal(q.capacity, 8, 'the minimum is kept while the queue is in use')
    for (let i = 0; i < 10_000; i++) q.push(i)
    assert.ok(q.capacity >= 10_000)
    for (let i = 0; i < 9_990; i++) q.shift()
    assert.equal(q.capacity, 32, `shrunk with the queue, down to 4x the minimum: ${q.capacity}`)
    while (q.length > 0) q.shift()
    assert.equal(q.capacity, 32)
    for (let i = 0; i < 1000; i++) q.push(i)
    while (q.length > 0) q.shift()
    assert.equal(q.capacity, 32, 'a drained burst leaves at most 4x the minimum')
    for (let i = 0; i < 1000; i++) q.push(i)
    q.clear()
    assert.equal(q.capacity, 0, 'clear() releases the slots of a burst')
  })

  test('a queue swinging between a few and a dozen items keeps its slots (no reallocation per swing)', () => {
    const q = new Fifo<number>(8)
    for (let swing = 0; swing < 100; swing++) {
      while (q.length < 12) q.push(swing)
      assert.equal(q.capacity, 16)
      while (q.length > 2) q.shift()
      assert.equal(q.capacity, 16)
    }
  })

  test('a taken or cleared item is not kept alive by the queue', async () => {
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    const q = new Fifo<object>()
    const refs: WeakRef<object>[] = []
    const keep = { kept: true }
    ;(() => {
      for (let i = 0; i < 5; i++) {
        const o = { i }
        refs.push(new WeakRef(o))
        q.push(o)
      }
      q.push(keep)
      q.shift() // item 0: taken
      q.shift() // item 1: taken
    })()
    // A WeakRef's target survives until the end of the job that made it.
    await new Promise((resolve) => setImmediate(resolve))
    gc()
    assert.equal(refs[0]!.deref(), undefined, 'a shifted item is released')
    assert.equal(refs[1]!.deref(), undefined)
    assert.ok(refs[2]!.deref() !== undefined, 'queued items are kept')
    q.takeAll()
    await new Promise((resolve) => setImmediate(resolve))
    gc()
    assert.equal(refs[4]!.deref(), undefined, 'items taken by takeAll are released')
    const more = new Fifo<object>()
    ;(() => {
      const o = {}
      refs[0] = new WeakRef(o)
      more.push(o)
      more.push(keep)
      more.clear()
    })()
    await new Promise((resolve) => setImmediate(resolve))
    gc()
    assert.equal(refs[0]!.deref(), undefined, 'cleared items are released')
    assert.equal(more.length, 0)
  })

  test('takeAll lets teardown push again while settling', () => {
    const q = new Fifo<() => void>()
    const log: string[] = []
    q.push(() => {
      log.push('a')
      q.push(() => log.push('late'))
    })
    q.push(() => log.push('b'))
    for (const f of q.takeAll()) f()
    assert.deepEqual(log, ['a', 'b'])
    assert.equal(q.length, 1)
    q.shift()!()
    assert.deepEqual(log, ['a', 'b', 'late'])
  })

  test('rejects a bad minimum capacity', () => {
    assert.throws(() => new Fifo(0), RangeError)
    assert.throws(() => new Fifo(1.5), RangeError)
    assert.throws(() => new Fifo(2 ** 31), RangeError)
    assert.equal(new Fifo(1).length, 0)
  })
})
