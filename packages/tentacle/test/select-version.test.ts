// The default version choice of protocol selection (§9.3). Rust tentacle 0.7.7's
// `select_version` walks both lists from the end and compares `String`s with
// Rust's `Ord`: bytewise on the UTF-8 encoding, not semver. These tests pin the
// surprising consequences and check selectVersion against an independent
// reference of that rule on arbitrary lists.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { selectVersion } from '../src/select-version.js'

/** Rust's `Ord for String`: lexicographic order of the UTF-8 bytes. */
function rustCmp(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}

/** Reference: tentacle's `select_version` (§9.3), written with indices and rustCmp. */
function rustSelectVersion(local: readonly string[], remote: readonly string[]): string | undefined {
  let i = local.length
  let j = remote.length
  while (i > 0 && j > 0) {
    const c = rustCmp(local[i - 1], remote[j - 1])
    if (c === 0) return local[i - 1]
    if (c < 0)
      j-- // Ordering::Less: the remote side holds the larger string
    else i--
  }
  return undefined
}

test("Rust tentacle's own select_version vectors (§9.3)", () => {
  const a = ['1.0.0', '1.1.1', '2.0.0']
  const b = ['1.0.0', '2.0.0', '3.0.0']
  const c: string[] = []
  const d = ['5.0.0']
  const e = ['1.0.0']
  assert.equal(selectVersion(b, a), '2.0.0')
  assert.equal(selectVersion(b, e), '1.0.0')
  assert.equal(selectVersion(b, c), undefined)
  assert.equal(selectVersion(b, d), undefined)
  assert.equal(selectVersion(d, a), undefined)
  assert.equal(selectVersion(d, e), undefined)
  assert.equal(selectVersion(e, d), undefined)
  // §9.3's second example.
  assert.equal(selectVersion(['1.0.0', '2.1.1'], ['1.0.0', '1.1.1']), '1.0.0')
})

test('strings, not numbers: "10" < "9" and "1.10" < "1.9"', () => {
  // Lists in semver order are not sorted for the walk: a common "9" is missed
  // because "10" sorts below "9", so the remote cursor runs off its list.
  assert.equal(selectVersion(['9', '10'], ['9']), undefined)
  assert.equal(selectVersion(['9'], ['9', '10']), undefined)
  assert.equal(selectVersion(['1.9', '1.10'], ['1.9']), undefined)
  assert.equal(selectVersion(['1.9', '1.10'], ['1.8', '1.9']), undefined)
  // Both lists in string order: the highest common one by string order wins,
  // which is "9" over "10" and "1.9" over "1.10".
  assert.equal(selectVersion(['10', '9'], ['10', '9']), '9')
  assert.equal(selectVersion(['1.10', '1.9'], ['1.10', '1.9']), '1.9')
  assert.equal(selectVersion(['1.10', '1.9'], ['1.10']), '1.10')
  // Equal last entries match whatever order the lists are in.
  assert.equal(selectVersion(['9', '10'], ['10']), '10')
  assert.equal(selectVersion(['9', '10'], ['9', '10']), '10')
  // A prefix sorts first; "0.0.1" < "0.0.1-rc" < "0.0.10".
  assert.equal(selectVersion(['0.0.1', '0.0.1-rc', '0.0.10'], ['0.0.1', '0.0.1-rc']), '0.0.1-rc')
  assert.equal(selectVersion(['1.0', '1.0.0'], ['1.0']), '1.0')
  // Uppercase sorts before lowercase, as bytes do.
  assert.equal(selectVersion(['V2', 'v1'], ['V2']), 'V2')
})

test('empty lists, duplicates, no common version', () => {
  assert.equal(selectVersion([], []), undefined)
  assert.equal(selectVersion([], ['0.0.1']), undefined)
  assert.equal(selectVersion(['0.0.1'], []), undefined)
  assert.equal(selectVersion([''], ['']), '', 'the empty string is a version like any other')
  assert.equal(selectVersion(['1', '1'], ['1']), '1')
  assert.equal(selectVersion(['1', '2', '2'], ['2', '2', '2']), '2')
  assert.equal(selectVersion(['1', '1', '3'], ['1', '2', '2']), '1')
  assert.equal(selectVersion(['1', '3'], ['2', '4']), undefined)
  assert.equal(selectVersion(['a'], ['A']), undefined, 'case matters')
  assert.equal(selectVersion(['1.0'], ['1.0 ']), undefined, 'no trimming')
})

test('code-point order, not UTF-16 order: U+FFFF < U+10000 as in Rust', () => {
  // UTF-8: U+FFFF is ef bf bf, U+10000 is f0 90 80 80, so Rust sorts U+FFFF first.
  // JavaScript's `<` compares UTF-16 units (d800 dc00 < ffff) and would say the opposite.
  const bmpMax = '\uffff'
  const astral = '\u{10000}'
  assert.ok(astral < bmpMax, 'the UTF-16 order this test guards against')
  assert.ok(rustCmp(bmpMax, astral) < 0)
  // Sorted in Rust's order: the walk steps back on the local side and finds U+FFFF.
  assert.equal(selectVersion([bmpMax, astral], [bmpMax]), bmpMax)
  assert.equal(selectVersion([bmpMax], [bmpMax, astral]), bmpMax)
  assert.equal(selectVersion(['1\uffff', '1\u{1f600}'], ['1\uffff']), '1\uffff')
  assert.equal(selectVersion(['é', '\u{1f600}'], ['é', '\u{1f600}']), '\u{1f600}')
})

/** Version-like strings from a small alphabet (so lists share entries), with astral and BMP edge characters. */
const versionArb = fc.string({
  unit: fc.constantFrom('0', '1', '9', '.', '-', 'a', 'A', 'é', '\uffff', '\u{10000}', '\u{1f600}'),
  maxLength: 4,
})
const listArb = fc.array(versionArb, { maxLength: 8 })
/** Any Unicode text (whole code points, astral included, no lone surrogates). */
const anyListArb = fc.array(fc.string({ unit: 'binary', maxLength: 6 }), { maxLength: 8 })

test('property: selectVersion equals the reference on arbitrary (unsorted, duplicated) lists', () => {
  fc.assert(
    fc.property(fc.oneof(listArb, anyListArb), fc.oneof(listArb, anyListArb), (local, remote) => {
      assert.equal(selectVersion(local, remote), rustSelectVersion(local, remote))
    }),
    { numRuns: 3000 },
  )
})

test('property: the result is in both lists, and the choice is symmetric', () => {
  fc.assert(
    fc.property(listArb, listArb, (local, remote) => {
      const v = selectVersion(local, remote)
      assert.equal(selectVersion(remote, local), v)
      if (v !== undefined) {
        assert.ok(local.includes(v) && remote.includes(v), `${v} in both`)
      }
    }),
    { numRuns: 2000 },
  )
})

test('property: on lists sorted in Rust order it is the highest common version', () => {
  fc.assert(
    fc.property(listArb, listArb, (a, b) => {
      const local = [...a].sort(rustCmp)
      const remote = [...b].sort(rustCmp)
      const common = local.filter((v) => remote.includes(v)).sort(rustCmp)
      assert.equal(selectVersion(local, remote), common.at(-1))
    }),
    { numRuns: 2000 },
  )
})

test('property: on sorted lists, sorting by UTF-16 units instead would change some answers (the test can tell)', () => {
  // Guards the guard: the arbitraries do produce lists where the JS default sort
  // misleads the walk, so the properties above would catch a `<` comparison.
  const jsCmp = (x: string, y: string): number => (x < y ? -1 : x > y ? 1 : 0)
  const differs = fc.sample(fc.tuple(listArb, listArb), { numRuns: 4000, seed: 7 }).some(([a, b]) => {
    const local = [...a].sort(rustCmp)
    const remote = [...b].sort(rustCmp)
    let i = local.length - 1
    let j = remote.length - 1
    while (i >= 0 && j >= 0 && local[i] !== remote[j]) {
      if (jsCmp(local[i], remote[j]) < 0) j--
      else i--
    }
    const jsAnswer = i >= 0 && j >= 0 ? local[i] : undefined
    return jsAnswer !== rustSelectVersion(local, remote)
  })
  assert.ok(differs)
})
