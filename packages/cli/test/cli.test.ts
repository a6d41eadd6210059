import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, statSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SecioKeyPair } from '@tentacle-ts/secio'
import { json, runCli } from './helpers.js'

test('tentacle --help lists every command on stdout, exit 0; no arguments prints it on stderr, exit 2', async () => {
  const help = await runCli(['--help'])
  assert.equal(help.code, 0)
  for (const c of ['keygen', 'node', 'dial', 'doctor', 'testnet'])
    assert.match(help.stdout, new RegExp(`^  ${c} `, 'm'))
  const none = await runCli([])
  assert.equal(none.code, 2)
  assert.match(none.stderr, /^Usage: tentacle <command>/)
})

test('each command has --help (exit 0, its own usage)', async () => {
  for (const c of ['keygen', 'node', 'dial', 'doctor']) {
    const r = await runCli([c, '--help'])
    assert.equal(r.code, 0, `${c}: ${r.stderr}`)
    assert.match(r.stdout, new RegExp(`^Usage: tentacle ${c}`))
  }
})

test('bad arguments: one-line error, then usage, exit 2, never a stack trace', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['frobnicate'], /^tentacle: unknown command 'frobnicate'$/],
    [['node', '--bogus'], /^tentacle node: Unknown option '--bogus'$/],
    [['node'], /^tentacle node: give at least one --listen/],
    [['node', '--listen', 'not-an-address'], /^tentacle node: --listen 'not-an-address': /],
    [['node', '--listen', '/ip4/127.0.0.1/tcp/0', '--metrics', 'nope'], /^tentacle node: --metrics must be HOST:PORT/],
    [['node', '--listen', '/ip4/127.0.0.1/tcp/0', '--max-connections', '-3'], /^tentacle node: /],
    [
      ['node', '--listen', '/ip4/127.0.0.1/tcp/0', '--preset', 'eth'],
      /^tentacle node: --preset must be one of tentacle, ckb/,
    ],
    [
      ['node', '--listen', '/ip4/127.0.0.1/tcp/0', '--bootnode', '/ip4/127.0.0.1/tcp/1'],
      /^tentacle node: bootnode \/ip4\/127\.0\.0\.1\/tcp\/1 has no \/p2p\/<peer id>$/,
    ],
    [
      ['node', '--listen', '/ip4/127.0.0.1/tcp/0', '--log-level', 'loud'],
      /^tentacle node: --log-level must be one of fatal, /,
    ],
    [['dial'], /^tentacle dial: missing argument$/],
    [['dial', '/ip4/127.0.0.1/tcp/1/p2p/notapeerid'], /^tentacle dial: bad address/],
    [['dial', '/ip4/127.0.0.1/tcp/1', '--timeout', 'soon'], /^tentacle dial: --timeout must be an integer/],
    [['doctor'], /^tentacle doctor: give exactly one of --port P or --pid PID$/],
    [['doctor', '--port', '70000'], /^tentacle doctor: --port must be an integer in \[1, 65535\]/],
    [['keygen', 'extra'], /^tentacle keygen: unexpected argument 'extra'$/],
  ]
  for (const [args, first] of cases) {
    const r = await runCli(args)
    assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}, stderr: ${r.stderr}`)
    const lines = r.stderr.split('\n')
    assert.match(lines[0], first, args.join(' '))
    assert.equal(lines[1], '', 'a blank line, then the usage')
    assert.match(lines[2], /^Usage: tentacle/)
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace')
    assert.equal(r.stdout, '')
  }
})

test('keygen --out FILE: a 0600 key file that loads to the printed peer id; refuses to overwrite without --force', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tentacle-cli-'))
  try {
    const file = join(dir, 'node.key')
    const r = await runCli(['keygen', '--out', file])
    assert.equal(r.code, 0, r.stderr)
    const peerId = r.stdout.trim()
    assert.match(peerId, /^Qm[1-9A-HJ-NP-Za-km-z]{44}$/)
    assert.equal(statSync(file).mode & 0o777, 0o600)
    assert.equal((await SecioKeyPair.load(file)).peerId.toString(), peerId)

    const again = await runCli(['keygen', '--out', file])
    assert.equal(again.code, 1)
    assert.equal(again.stderr, `tentacle keygen: ${file} exists; pass --force to overwrite it\n`)
    assert.equal((await SecioKeyPair.load(file)).peerId.toString(), peerId, 'untouched')

    const forced = json<{ peerId: string; file: string }>(await runCli(['keygen', '--out', file, '--force', '--json']))
    assert.equal(forced.file, file)
    assert.notEqual(forced.peerId, peerId)
    assert.equal((await SecioKeyPair.load(file)).peerId.toString(), forced.peerId)

    const loose = join(dir, 'stdout.key')
    const printed = await runCli(['keygen'])
    assert.equal(printed.code, 0)
    writeFileSync(loose, printed.stdout)
    assert.equal(`peer id ${(await SecioKeyPair.load(loose)).peerId.toString()}\n`, printed.stderr)
    assert.match(readFileSync(loose, 'utf8'), /^[0-9a-f]{64}\n$/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('a key file that is missing or malformed is a one-line error, exit 1', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tentacle-cli-'))
  try {
    const missing = join(dir, 'none.key')
    const r = await runCli(['node', '--listen', '/ip4/127.0.0.1/tcp/0', '--key', missing])
    assert.equal(r.code, 1)
    assert.equal(
      r.stderr,
      `tentacle node: ${missing} does not exist (create it with: tentacle keygen --out ${missing})\n`,
    )
    const bad = join(dir, 'bad.key')
    writeFileSync(bad, 'hello\n')
    const r2 = await runCli(['dial', '/ip4/127.0.0.1/tcp/1', '--key', bad])
    assert.equal(r2.code, 1)
    assert.match(r2.stderr, /^tentacle dial: .*bad\.key: not a secp256k1 secret/)
    assert.equal(r2.stderr.split('\n').length, 2)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
