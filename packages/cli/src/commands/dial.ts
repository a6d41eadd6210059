import { choice, intOption, parse } from '../args.js'
import { probe, type PhaseTiming, type ProbeResult } from '../dial/probe.js'
import { presetPing, PRESETS, type Preset } from '../preset.js'
import { UsageError } from '../errors.js'
import { loadKey } from '../key-file.js'
import { printHelp } from '../usage.js'

/** `tentacle dial ADDR [--protocol NAME] [--versions V,..] [--preset P] [--json] [--timeout MS] [--key FILE]` */
export async function dial(argv: string[]): Promise<number> {
  const { values, positionals, help } = parse(
    'dial',
    argv,
    {
      protocol: { type: 'string' },
      versions: { type: 'string' },
      preset: { type: 'string' },
      json: { type: 'boolean' },
      timeout: { type: 'string' },
      key: { type: 'string' },
    },
    { min: 1, max: 1 },
  )
  if (help) return printHelp('dial')
  const address = positionals[0]
  const timeoutMs = intOption('dial', 'timeout', values.timeout, { min: 1 })
  const preset: Preset = choice('dial', 'preset', values.preset, PRESETS) ?? 'tentacle'
  const ping = presetPing(preset)
  const versionsOpt = values.versions as string | undefined
  if (versionsOpt !== undefined && values.protocol === undefined)
    throw new UsageError('--versions needs --protocol', 'dial')
  const versions = versionsOpt?.split(',').filter((v) => v !== '')
  if (versions !== undefined && versions.length === 0)
    throw new UsageError('--versions must list at least one version', 'dial')
  const name = values.protocol as string | undefined
  const protocol =
    name === undefined ? undefined : { name, versions: versions ?? (name === ping?.name ? ping.versions : ['0.0.1']) }
  const key = values.key === undefined ? undefined : await loadKey(values.key as string)
  let result: ProbeResult
  try {
    result = await probe({ address, key, protocol, ping, timeoutMs })
  } catch (err) {
    const code = (err as { code?: string }).code
    if (
      code === 'TENTACLE_ERR_INVALID_MULTIADDR' ||
      code === 'TENTACLE_ERR_UNSUPPORTED_MULTIADDR' ||
      code === 'SECIO_ERR_INVALID_PEER_ID'
    ) {
      throw new UsageError(`bad address '${address}': ${(err as Error).message}`, 'dial')
    }
    throw err
  }
  process.stdout.write(values.json === true ? JSON.stringify(result) + '\n' : render(result))
  return result.ok ? 0 : 1
}

const LABEL: Record<PhaseTiming['phase'], string> = {
  'tcp-connect': 'tcp connect',
  'secio-propose': 'secio propose',
  'secio-exchange': 'secio exchange',
  'secio-nonce-echo': 'secio nonce echo',
  yamux: 'yamux',
  'protocol-select': 'protocol select',
  ping: 'ping',
}

/** The human form: one line per phase, then what was learnt. */
export function render(r: ProbeResult): string {
  const lines = [`dial ${r.address}`]
  for (const p of r.phases) {
    let extra = ''
    if (p.phase === 'protocol-select' && r.protocol) extra = `  ${r.protocol.name} version ${r.protocol.version}`
    if (p.phase === 'ping' && r.pingRttMs !== undefined) extra = `  RTT ${fmt(r.pingRttMs)}`
    lines.push(`  ${LABEL[p.phase].padEnd(18)}${fmt(p.ms).padStart(12)}${extra}`)
  }
  if (r.failedPhase !== undefined) {
    lines.push(`  ${LABEL[r.failedPhase].padEnd(18)}${'FAILED'.padStart(12)}  ${r.error?.code}: ${r.error?.message}`)
  }
  if (r.peerId) lines.push(`peer id   ${r.peerId}`)
  if (r.suite) lines.push(`suite     ${r.suite.agreement} ${r.suite.cipher} ${r.suite.digest}`)
  if (r.pingRttMs !== undefined) lines.push(`ping RTT  ${fmt(r.pingRttMs)}`)
  for (const n of r.notes) lines.push(`note      ${n}`)
  lines.push(`total     ${fmt(r.totalMs)}${r.ok ? '' : `  (failed in ${LABEL[r.failedPhase ?? 'tcp-connect']})`}`)
  return lines.join('\n') + '\n'
}

function fmt(ms: number): string {
  return `${ms.toFixed(ms < 10 ? 2 : 1)} ms`
}
