// One error model across the packages (docs/errors.md): each package's codes
// carry its family prefix, no code belongs to two packages, every declared
// code is raised somewhere in its package, no source raises a code that is not
// declared, and every family's guard recognises an error made by a second
// installed copy of the package (a brand, not `instanceof`).
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  CODEC_ERROR_CODES,
  CodecError,
  isCodecError,
  isMoleculeError,
  LengthDelimitedDecoder,
  MoleculeError,
} from '@tentacle-ts/codec'
import { SECIO_ERROR_CODES, isSecioError, SecioError } from '@tentacle-ts/secio'
import { YAMUX_ERROR_CODES, isYamuxError, resolveConfig as resolveYamuxConfig, YamuxError } from '@tentacle-ts/yamux'
import { TENTACLE_ERROR_CODES, isTentacleError, resolveConfig, TentacleError } from '@tentacle-ts/tentacle'
import { PROTOCOLS_ERROR_CODES, isProtocolsError, ProtocolsError, resolveNetworkOptions } from '@tentacle-ts/protocols'
import { fromCodecError } from '../../packages/secio/src/errors.js'
import { CLI_ERROR_CODES, isCliError, CliError, UsageError } from '@tentacle-ts/cli'

const root = fileURLToPath(new URL('../..', import.meta.url))

/** Package directory, family prefix, declared codes. */
const FAMILIES: ReadonlyArray<{ pkg: string; prefix: string; codes: readonly string[] }> = [
  { pkg: 'codec', prefix: 'CODEC_ERR_', codes: CODEC_ERROR_CODES },
  { pkg: 'secio', prefix: 'SECIO_ERR_', codes: SECIO_ERROR_CODES },
  { pkg: 'yamux', prefix: 'YAMUX_ERR_', codes: YAMUX_ERROR_CODES },
  { pkg: 'tentacle', prefix: 'TENTACLE_ERR_', codes: TENTACLE_ERROR_CODES },
  { pkg: 'protocols', prefix: 'PROTOCOLS_ERR_', codes: PROTOCOLS_ERROR_CODES },
  { pkg: 'cli', prefix: 'CLI_ERR_', codes: CLI_ERROR_CODES },
]

/** Node's own codes our sources may compare against (never raise). */
const NODE_CODES = new Set(['ERR_STREAM_PREMATURE_CLOSE', 'ERR_STREAM_DESTROYED', 'ERR_SOCKET_CLOSED'])

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) sources(p, out)
    else if (p.endsWith('.ts')) out.push(p)
  }
  return out
}

/** A package's source without comments and without the list that declares its codes. */
function code(pkg: string): string {
  return sources(join(root, 'packages', pkg, 'src'))
    .map((f) =>
      readFileSync(f, 'utf8')
        .replace(/export const [A-Z]+_ERROR_CODES = \[[\s\S]*?\] as const/, '')
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/^\s*\/\/.*$/gm, ''),
    )
    .join('\n')
}

describe('error codes', () => {
  test('each package prefixes its codes with its family, once each', () => {
    for (const { pkg, prefix, codes } of FAMILIES) {
      assert.ok(codes.length > 0, pkg)
      for (const c of codes) assert.match(c, new RegExp(`^${prefix}[A-Z0-9_]+$`), `${pkg}: ${c}`)
      assert.equal(new Set(codes).size, codes.length, `${pkg}: a code listed twice`)
    }
  })

  test('no code belongs to two packages', () => {
    const owner = new Map<string, string>()
    for (const { pkg, codes } of FAMILIES) {
      for (const c of codes) {
        assert.equal(owner.get(c), undefined, `${c} is declared by ${owner.get(c)} and ${pkg}`)
        owner.set(c, pkg)
      }
    }
  })

  test('every declared code is raised somewhere in its package (no dead codes)', () => {
    for (const { pkg, codes } of FAMILIES) {
      const src = code(pkg)
      const dead = codes.filter((c) => !new RegExp(`['"\`]${c}['"\`]`).test(src))
      assert.deepEqual(dead, [], `${pkg} declares codes it never raises`)
    }
  })

  test('no source uses a code that is not declared, nor an unprefixed ERR_ code of its own', () => {
    const declared = new Set(FAMILIES.flatMap((f) => f.codes))
    for (const { pkg } of FAMILIES) {
      const src = code(pkg)
      const used = new Set([...src.matchAll(/['"`]((?:[A-Z]+_)?ERR_[A-Z0-9_]*[A-Z0-9])['"`]/g)].map((m) => m[1]!))
      const unknown = [...used].filter((c) => !declared.has(c) && !NODE_CODES.has(c))
      assert.deepEqual(unknown, [], `${pkg}: codes used but not declared by any package`)
    }
  })
})

describe('the option at fault', () => {
  /** Runs `f`, which must throw; returns what it threw. */
  const thrown = (f: () => unknown): unknown => {
    try {
      f()
    } catch (e) {
      return e
    }
    assert.fail('did not throw')
  }

  test('every package names it in `field` of its *_ERR_INVALID_OPTION', () => {
    const codec = thrown(() => new LengthDelimitedDecoder(-1))
    assert.ok(isCodecError(codec, 'CODEC_ERR_INVALID_OPTION') && codec.field === 'maxFrameLength', String(codec))
    const yamux = thrown(() => resolveYamuxConfig({ maxStreamWindowSize: 1 }))
    assert.ok(isYamuxError(yamux, 'YAMUX_ERR_INVALID_OPTION') && yamux.field === 'maxStreamWindowSize', String(yamux))
    const protocols = thrown(() => resolveNetworkOptions({ networkName: 'x', bootnodes: ['/ip4/127.0.0.1/tcp/1'] }))
    assert.ok(
      isProtocolsError(protocols, 'PROTOCOLS_ERR_INVALID_OPTION') && protocols.field === 'bootnodes[0]',
      String(protocols),
    )
    const tentacle = thrown(() => resolveConfig({ secio: { ciphers: ['AES-128-gcm' as 'AES-128-GCM'] } }))
    assert.ok(
      isTentacleError(tentacle, 'TENTACLE_ERR_INVALID_OPTION') && tentacle.field === 'secio.ciphers[0]',
      String(tentacle),
    )
    // secio's own checks are exercised through handshake() in packages/secio/test/handshake.test.ts.
  })

  test("a lower package's error re-raised above gets the raising package's code, the lower one as cause", () => {
    const tentacle = thrown(() => resolveConfig({ yamux: { pingTimeoutMs: -1 } }))
    assert.ok(isTentacleError(tentacle, 'TENTACLE_ERR_INVALID_OPTION'), String(tentacle))
    assert.equal(tentacle.field, 'yamux.pingTimeoutMs')
    assert.ok(isYamuxError(tentacle.cause, 'YAMUX_ERR_INVALID_OPTION') && tentacle.cause.field === 'pingTimeoutMs')

    const tooLarge = new CodecError('CODEC_ERR_FRAME_TOO_LARGE', 'frame of 9 bytes over 8')
    const secio = fromCodecError(tooLarge)
    assert.ok(isSecioError(secio, 'SECIO_ERR_FRAME_TOO_LARGE'), String(secio))
    assert.equal(secio.cause, tooLarge)
    const option = fromCodecError(thrown(() => new LengthDelimitedDecoder(2 ** 32)))
    assert.ok(isSecioError(option, 'SECIO_ERR_INVALID_OPTION') && option.field === 'maxFrameLength', String(option))
    const other = new CodecError('CODEC_ERR_MESSAGE_DECODE', 'not ours to rename')
    assert.equal(fromCodecError(other), other, 'other codec errors pass through')
  })
})

type Module = Record<string, unknown>
const secondCopy = (file: string): Promise<Module> =>
  import(new URL(`../../packages/${file}?second-copy`, import.meta.url).href) as Promise<Module>
type Guard = (e: unknown, code?: never) => boolean

describe('error brands', () => {
  const cases: ReadonlyArray<{ file: string; name: string; ours: unknown; is: Guard; args: unknown[] }> = [
    { file: 'codec/src/errors.ts', name: 'CodecError', ours: CodecError, is: isCodecError as Guard, args: [] },
    {
      file: 'codec/src/errors.ts',
      name: 'MoleculeError',
      ours: MoleculeError,
      is: isMoleculeError as Guard,
      args: ['Propose.pubkey'],
    },
    { file: 'secio/src/errors.ts', name: 'SecioError', ours: SecioError, is: isSecioError as Guard, args: [] },
    { file: 'yamux/src/errors.ts', name: 'YamuxError', ours: YamuxError, is: isYamuxError as Guard, args: [] },
    {
      file: 'tentacle/src/errors.ts',
      name: 'TentacleError',
      ours: TentacleError,
      is: isTentacleError as Guard,
      args: [],
    },
    {
      file: 'protocols/src/errors.ts',
      name: 'ProtocolsError',
      ours: ProtocolsError,
      is: isProtocolsError as Guard,
      args: [],
    },
    { file: 'cli/src/errors.ts', name: 'CliError', ours: CliError, is: isCliError as Guard, args: [] },
  ]
  const codeOf: Record<string, [string, string]> = {
    CodecError: ['CODEC_ERR_FRAME_TOO_LARGE', 'CODEC_ERR_INVALID_OPTION'],
    MoleculeError: ['CODEC_ERR_MOLECULE_HEADER', 'CODEC_ERR_MOLECULE_SIZE'],
    SecioError: ['SECIO_ERR_CONNECT_SELF', 'SECIO_ERR_NO_COMMON_SUITE'],
    YamuxError: ['YAMUX_ERR_STREAM_RESET', 'YAMUX_ERR_GO_AWAY'],
    TentacleError: ['TENTACLE_ERR_DIAL_FAILED', 'TENTACLE_ERR_CONNECT_SELF'],
    ProtocolsError: ['PROTOCOLS_ERR_MALFORMED_MESSAGE', 'PROTOCOLS_ERR_INVALID_OPTION'],
    CliError: ['CLI_ERR_KEY_FILE', 'CLI_ERR_LISTEN'],
  }

  for (const { file, name, ours, is, args } of cases) {
    test(`${name}: its guard recognises one from a second installed copy, and only its own family`, async () => {
      const mod = await secondCopy(file)
      const Other = mod[name] as new (...a: unknown[]) => Error & { code: string }
      assert.equal(typeof Other, 'function')
      assert.notEqual(Other, ours, 'the import really is a second copy')
      const [c, d] = codeOf[name]!
      const e =
        name === 'MoleculeError' ? new Other(c, ...args, 'from the other copy') : new Other(c, 'from the other copy')
      assert.equal(e instanceof (ours as typeof Error), false, 'instanceof cannot see it')
      assert.equal(is(e), true, 'the brand check does')
      assert.equal(is(e, c as never), true)
      assert.equal(is(e, d as never), false)
      assert.equal(is(Object.assign(new Error('x'), { code: c, name })), false, 'a look-alike is not one')
      for (const other of cases) {
        if (other.file !== file) assert.equal(other.is(e), false, `${other.name}'s guard does not take a ${name}`)
      }
    })
  }

  test('UsageError and TestnetError are CliErrors (the brand goes with them); a CodecError is not a MoleculeError', async () => {
    const testnet = await secondCopy('cli/src/testnet/errors.ts')
    const Testnet = testnet.TestnetError as new (code: string, message: string) => Error
    assert.equal(isCliError(new Testnet('CLI_ERR_TESTNET_STATE', 'x'), 'CLI_ERR_TESTNET_STATE'), true)
    assert.equal(isCliError(new UsageError('bad flag'), 'CLI_ERR_USAGE'), true)
    assert.equal(isMoleculeError(new CodecError('CODEC_ERR_FRAME_TOO_LARGE', 'x')), false)
    assert.equal(isCodecError(new MoleculeError('CODEC_ERR_MOLECULE_SIZE', 'A.b', 'x')), true)
  })
})
