/**
 * tentacle's default version choice (§9.3, `select_version`): both lists are
 * taken as sorted ascending; walk both from the end, compare as plain
 * strings (so "10" < "9"), advance the larger side; the first equal pair is
 * the highest common version.
 */
export function selectVersion(local: readonly string[], remote: readonly string[]): string | undefined {
  let i = local.length - 1
  let j = remote.length - 1
  while (i >= 0 && j >= 0) {
    const l = local[i]
    const r = remote[j]
    if (l === r) return l
    // Rust compares `String`s bytewise; for UTF-8 that is code-point order,
    // which JS `<` on UTF-16 matches except for astral characters — compare
    // by code points to be exact.
    if (compareCodePoints(l, r) < 0) j--
    else i--
  }
  return undefined
}

function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]()
  const ib = b[Symbol.iterator]()
  for (;;) {
    const x = ia.next()
    const y = ib.next()
    if (x.done || y.done) return x.done && y.done ? 0 : x.done ? -1 : 1
    const cx = x.value.codePointAt(0) as number
    const cy = y.value.codePointAt(0) as number
    if (cx !== cy) return cx - cy
  }
}
