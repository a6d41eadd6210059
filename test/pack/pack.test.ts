// Pack and consume: every package as npm would publish it.
//
// `npm pack` runs each package's prepack (build, stale-output cleanup, LICENSE,
// `source` condition stripped) and postpack (condition restored). The tarballs
// are installed into a fresh project in a temporary directory (from the local
// npm cache where it can: --prefer-offline), then
//   - a plain .mjs program starts two nodes that exchange a message over secio
//     and yamux, run with and without --conditions=source (the condition this
//     repository uses for itself must not reach a consumer);
//   - a strict TypeScript consumer compiles under moduleResolution NodeNext,
//     bundler and node10, without esModuleInterop and with skipLibCheck off for
//     our packages' declarations.
import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)
const ROOT = process.env.TENTACLE_TS_ROOT ?? fileURLToPath(new URL('../..', import.meta.url))
const PACKAGES = ['codec', 'secio', 'yamux', 'tentacle', 'protocols', 'cli']
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm'
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
const MINUTE = 60_000

let dir = ''
const tarballs = new Map<string, string>()

const MAIN_MJS = `
import { SecioKeyPair } from '@tentacle-ts/secio'
import { ServiceBuilder } from '@tentacle-ts/tentacle'
import { isCodecError } from '@tentacle-ts/codec'
import { Session } from '@tentacle-ts/yamux'
import { createNetworkProtocols } from '@tentacle-ts/protocols'
import { main } from '@tentacle-ts/cli'

if (typeof isCodecError !== 'function' || typeof Session !== 'function') throw new Error('codec/yamux exports missing')
if (typeof createNetworkProtocols !== 'function' || typeof main !== 'function') throw new Error('protocols/cli exports missing')

const timer = setTimeout(() => { console.error('timed out'); process.exit(1) }, 30_000)
let received
const got = new Promise((resolve) => (received = resolve))
const bob = new ServiceBuilder()
  .key(SecioKeyPair.generate())
  .protocol({ id: 1, name: '/pack/echo', handler: { received: (ctx, data) => ctx.send(data) } })
  .build({ handleError: (e) => console.error('bob', e.type, e.error.code) })
const alice = new ServiceBuilder()
  .key(SecioKeyPair.generate())
  .protocol({
    id: 1,
    name: '/pack/echo',
    handler: {
      connected: (ctx) => ctx.send(new TextEncoder().encode('hello from a tarball')),
      received: (ctx, data) => received(new TextDecoder().decode(data)),
    },
  })
  .build({ handleError: (e) => console.error('alice', e.type, e.error.code) })
const addr = await bob.listen('/ip4/127.0.0.1/tcp/0')
const session = await alice.dial(addr.encapsulate('/p2p/' + bob.peerId))
const text = await got
await Promise.all([alice.close(), bob.close()])
clearTimeout(timer)
console.log(JSON.stringify({ text, remote: session.remotePeerId === bob.peerId }))
`

const CONSUMER_TS = `
import { SecioKeyPair, PeerId, isSecioError, type SecioErrorCode } from '@tentacle-ts/secio'
import { Session, type YamuxConfig } from '@tentacle-ts/yamux'
import { ServiceBuilder, TentacleError, type ServiceHandler, type ProtocolSessionContext } from '@tentacle-ts/tentacle'
import { LengthDelimitedDecoder, isCodecError } from '@tentacle-ts/codec'
import { createNetworkProtocols, type NetworkProtocolsOptions } from '@tentacle-ts/protocols'
import { main } from '@tentacle-ts/cli'

const key: SecioKeyPair = SecioKeyPair.generate()
const id: PeerId = key.peerId
const code: SecioErrorCode | undefined = undefined
const handler: ServiceHandler = { handleError: (e) => { if (e.error instanceof TentacleError) console.log(e.error.code) } }
const onData = (ctx: ProtocolSessionContext, data: Uint8Array): void => { ctx.send(data) }
const service = new ServiceBuilder().key(key).protocol({ id: 1, handler: { received: onData } }).build(handler)
const yamux: Partial<YamuxConfig> = {}
const options: Partial<NetworkProtocolsOptions> = {}
export const all = [id.toString(), code, service, yamux, options, Session, LengthDelimitedDecoder, isCodecError, isSecioError, createNetworkProtocols, main]
`

const RESOLUTIONS: Record<string, Record<string, unknown>> = {
  nodenext: { module: 'NodeNext', moduleResolution: 'NodeNext' },
  bundler: { module: 'ESNext', moduleResolution: 'bundler' },
  node10: { module: 'ESNext', moduleResolution: 'node10' },
}

/** Every file an `exports` map can resolve to (the string leaves). */
function exportTargets(value: unknown): string[] {
  if (typeof value === 'string') return [value]
  if (value === null || typeof value !== 'object') return []
  return Object.values(value).flatMap(exportTargets)
}

describe('pack and consume', { timeout: 6 * MINUTE }, () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tentacle-ts-pack-'))
    const dest = join(dir, 'tarballs')
    await mkdir(dest)
    for (const name of PACKAGES) {
      const { stdout } = await run(NPM, ['pack', '--json', '--pack-destination', dest], {
        cwd: join(ROOT, 'packages', name),
        timeout: 3 * MINUTE,
        maxBuffer: 16 << 20,
      })
      const [info] = JSON.parse(stdout) as Array<{ filename: string }>
      tarballs.set(name, join(dest, info.filename))
    }
  })

  after(async () => {
    if (dir !== '') await rm(dir, { recursive: true, force: true })
  })

  test('the repository keeps its source condition after packing', async () => {
    for (const name of PACKAGES) {
      const manifest = JSON.parse(await readFile(join(ROOT, 'packages', name, 'package.json'), 'utf8'))
      assert.equal(manifest.exports['.'].source, './src/index.ts', name)
      assert.equal(existsSync(join(ROOT, 'packages', name, '.pack-exports.json')), false, name)
    }
  })

  test('each tarball has built output, LICENSE, metadata, and no source condition', async () => {
    const unpacked = join(dir, 'unpacked')
    for (const [name, tgz] of tarballs) {
      const to = join(unpacked, name)
      await mkdir(to, { recursive: true })
      await run('tar', ['-xzf', tgz, '-C', to], { timeout: MINUTE })
      const pkg = join(to, 'package')
      const manifest = JSON.parse(await readFile(join(pkg, 'package.json'), 'utf8'))
      assert.equal(JSON.stringify(manifest.exports).includes('"source"'), false, `${name}: source condition published`)
      for (const key of ['license', 'repository', 'homepage', 'bugs', 'keywords', 'engines', 'author']) {
        assert.ok(manifest[key], `${name}: package.json lacks ${key}`)
      }
      for (const file of ['LICENSE', 'README.md', 'dist/index.js', 'dist/index.d.ts']) {
        assert.ok(existsSync(join(pkg, file)), `${name}: ${file} missing from the tarball`)
      }
      for (const target of exportTargets(manifest.exports)) {
        assert.ok(!target.endsWith('.ts') || target.endsWith('.d.ts'), `${name}: export target ${target} is source`)
        assert.ok(existsSync(join(pkg, target)), `${name}: export target ${target} not in the tarball`)
      }
      for (const sub of await readdir(join(pkg, 'dist'), { recursive: true })) {
        const s = String(sub)
        if (!s.endsWith('.js')) continue
        assert.ok(
          existsSync(join(pkg, 'src', s.replace(/\.js$/, '.ts'))),
          `${name}: dist/${s} has no source (stale build output)`,
        )
      }
    }
  })

  test('installs into a fresh project, where a plain .mjs program exchanges a message', async () => {
    const app = join(dir, 'app')
    await mkdir(app)
    const deps: Record<string, string> = {}
    for (const [name, tgz] of tarballs) deps[`@tentacle-ts/${name}`] = `file:${tgz}`
    const typesNode = JSON.parse(
      await readFile(join(ROOT, 'node_modules', '@types', 'node', 'package.json'), 'utf8'),
    ).version
    await writeFile(
      join(app, 'package.json'),
      JSON.stringify(
        {
          name: 'consumer',
          private: true,
          type: 'module',
          dependencies: deps,
          devDependencies: { '@types/node': typesNode },
        },
        null,
        2,
      ),
    )
    await run(NPM, ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], {
      cwd: app,
      timeout: 4 * MINUTE,
      maxBuffer: 16 << 20,
    })
    await writeFile(join(app, 'main.mjs'), MAIN_MJS)
    for (const flags of [[], ['--conditions=source']]) {
      const { stdout } = await run(process.execPath, [...flags, 'main.mjs'], { cwd: app, timeout: MINUTE })
      assert.deepEqual(
        JSON.parse(stdout.trim().split('\n').at(-1) ?? ''),
        { text: 'hello from a tarball', remote: true },
        flags.join(' '),
      )
    }
  })

  for (const [label, resolution] of Object.entries(RESOLUTIONS)) {
    test(`a strict TypeScript consumer compiles under moduleResolution ${label}`, async () => {
      const app = join(dir, 'app')
      assert.ok(existsSync(join(app, 'node_modules', '@tentacle-ts', 'tentacle')), 'the install test ran first')
      await writeFile(join(app, 'consumer.ts'), CONSUMER_TS)
      const config = {
        compilerOptions: {
          ...resolution,
          target: 'ES2022',
          strict: true,
          noEmit: true,
          esModuleInterop: false,
          allowSyntheticDefaultImports: false,
          skipLibCheck: false,
          types: ['node'],
        },
        files: ['consumer.ts'],
      }
      const tsconfig = join(app, `tsconfig.${label}.json`)
      await writeFile(tsconfig, JSON.stringify(config, null, 2))
      const out = await run(process.execPath, [TSC, '-p', tsconfig, '--pretty', 'false'], {
        cwd: app,
        timeout: 2 * MINUTE,
        maxBuffer: 16 << 20,
      }).then(
        () => '',
        (err: { stdout?: string; stderr?: string }) => `${err.stdout ?? ''}${err.stderr ?? ''}`,
      )
      // Third-party declarations are not ours to fix (pino's own .d.ts needs
      // allowSyntheticDefaultImports); every diagnostic in the consumer or in
      // a @tentacle-ts package fails the test.
      const ours = out
        .split('\n')
        .filter(
          (line) =>
            /^(consumer\.ts|node_modules\/@tentacle-ts\/)/.test(line) ||
            (line.startsWith('error') && !line.includes('node_modules/')),
        )
      assert.deepEqual(ours, [], `tsc (${label}):\n${out}`)
    })
  }
})
