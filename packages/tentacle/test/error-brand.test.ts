// isTentacleError / isSecioError / isYamuxError hold for an error made by a
// second copy of the package (two versions installed side by side), where
// `instanceof` does not. A second copy is a second module instance: the same
// file imported under another URL.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { isTentacleError, TentacleError } from '../src/index.js'
import { isSecioError, SecioError } from '@tentacle-ts/secio'
import { isYamuxError, YamuxError } from '@tentacle-ts/yamux'

type Module = Record<string, unknown>
const secondCopy = (relative: string): Promise<Module> =>
  import(new URL(`${relative}?second-copy`, import.meta.url).href) as Promise<Module>

test('error checks recognise errors from a second installed copy, and only their own family', async () => {
  const copies: Array<[Module, string, (e: unknown, code?: never) => boolean]> = [
    [await secondCopy('../src/errors.ts'), 'TentacleError', isTentacleError as never],
    [await secondCopy('../../secio/src/errors.ts'), 'SecioError', isSecioError as never],
    [await secondCopy('../../yamux/src/errors.ts'), 'YamuxError', isYamuxError as never],
  ]
  const ours = { TentacleError, SecioError, YamuxError } as Record<string, unknown>
  for (const [mod, name, is] of copies) {
    const Other = mod[name] as new (code: string, message: string) => Error & { code: string }
    assert.notEqual(Other, ours[name], `${name}: the import is really a second copy`)
    const e = new Other('ERR_X', 'from the other copy')
    assert.equal(e instanceof (ours[name] as typeof Error), false, `${name}: instanceof cannot see it`)
    assert.equal(is(e), true, `${name}: the brand check does`)
    assert.equal(is(e, 'ERR_X' as never), true)
    assert.equal(is(e, 'ERR_Y' as never), false)
    assert.equal(is(Object.assign(new Error('x'), { code: 'ERR_X', name })), false, `${name}: a look-alike is not one`)
  }
  assert.equal(isSecioError(new TentacleError('ERR_DIAL_FAILED', 'x')), false, 'families do not mix')
  assert.equal(isTentacleError(new YamuxError('ERR_STREAM_RESET', 'x')), false)
})
