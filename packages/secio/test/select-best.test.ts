/** selectBest (§3.7), including its shortcut for identical propositions, against the plain walk. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { AGREEMENTS, CIPHERS, type Ordering } from '../src/index.js'
import { selectBest } from '../src/support.js'

function reference(ordering: Ordering, ours: string, theirs: string, known: readonly string[]): string | undefined {
  const [a, b] = ordering === 1 ? [ours, theirs] : [theirs, ours]
  return a.split(',').find((x) => b.split(',').includes(x) && known.includes(x))
}

test('selectBest: the walk of §3.7, for identical and different propositions, every ordering, repeated calls', () => {
  const name = fc.constantFrom(...AGREEMENTS, ...CIPHERS, 'X448', '', 'p-256')
  const list = fc.array(name, { minLength: 0, maxLength: 5 }).map((xs) => xs.join(','))
  const ordering = fc.constantFrom<Ordering>(-1, 0, 1)
  fc.assert(
    fc.property(ordering, list, list, fc.boolean(), (o, ours, other, same) => {
      const theirs = same ? ours.split('').join('') : other // equal text, another string object
      for (const known of [AGREEMENTS, CIPHERS]) {
        const want = reference(o, ours, theirs, known)
        assert.equal(selectBest(o, ours, theirs, known), want)
        assert.equal(selectBest(o, ours, theirs, known), want) // cached the second time
      }
    }),
    { numRuns: 3000 },
  )
})
