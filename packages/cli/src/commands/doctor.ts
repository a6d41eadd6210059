import { intOption, parse } from '../args.js'
import { UsageError } from '../errors.js'
import { diagnose, type DoctorReport } from '../doctor/diagnose.js'
import { printHelp } from '../usage.js'

/** `tentacle doctor [--port P | --pid PID] [--metrics URL] [--json] [--sample-ms MS]` */
export async function doctor(argv: string[]): Promise<number> {
  const { values, help } = parse(
    'doctor',
    argv,
    {
      port: { type: 'string' },
      pid: { type: 'string' },
      metrics: { type: 'string' },
      json: { type: 'boolean' },
      'sample-ms': { type: 'string' },
    },
    { min: 0, max: 0 },
  )
  if (help) return printHelp('doctor')
  const port = intOption('doctor', 'port', values.port, { min: 1, max: 65535 })
  const pid = intOption('doctor', 'pid', values.pid, { min: 1 })
  if ((port === undefined) === (pid === undefined))
    throw new UsageError('give exactly one of --port P or --pid PID', 'doctor')
  const metricsUrl = values.metrics as string | undefined
  if (metricsUrl !== undefined && !/^https?:\/\/[^/]+/.test(metricsUrl))
    throw new UsageError(`--metrics must be a URL like http://127.0.0.1:9100/metrics, got '${metricsUrl}'`, 'doctor')
  if (process.platform !== 'linux') throw new UsageError('doctor reads /proc and works on Linux only', 'doctor')
  const sampleMs = intOption('doctor', 'sample-ms', values['sample-ms'], { min: 0, max: 60_000 })
  const report = await diagnose({ port, pid, metricsUrl, sampleMs })
  process.stdout.write(values.json === true ? JSON.stringify(report) + '\n' : render(report))
  return report.healthy ? 0 : 1
}

const MARK = { critical: 'CRITICAL', warn: 'WARN    ', info: 'info    ' }

export function render(r: DoctorReport): string {
  const o = r.observed
  const who = [
    o.pid !== undefined ? `pid ${o.pid} (${o.process?.comm}, state ${o.process?.state})` : undefined,
    o.ports.length > 0 ? `listening on ${o.ports.join(', ')}` : undefined,
    o.metricsUrl ? `metrics ${o.metricsUrl}` : 'no metrics endpoint (pass --metrics URL)',
  ].filter(Boolean)
  const lines = [`tentacle doctor: ${who.join('; ')}`]
  const q = Object.entries(o.acceptQueue).map(([p, d]) => `${p}: ${d.min === d.max ? d.max : `${d.min}-${d.max}`}`)
  if (q.length > 0) lines.push(`  accept queue     ${q.join(', ')}`)
  const states = Object.entries(o.socketStates).map(([s, n]) => `${s} ${n}`)
  lines.push(`  sockets          ${states.length > 0 ? states.join(', ') : 'none'}`)
  if (o.fds) lines.push(`  open files       ${o.fds.open}${o.fds.limit !== undefined ? ` of ${o.fds.limit}` : ''}`)
  if (o.listenCounters) {
    const { sinceBoot: b, duringSample: d } = o.listenCounters
    lines.push(
      `  listen drops     ${d.listenDrops} during the sample (${b.listenDrops} since boot, ${b.listenOverflows} overflows; whole host)`,
    )
  }
  lines.push('')
  for (const f of r.findings) {
    lines.push(`${MARK[f.severity]}  ${f.title}`)
    lines.push(`          ${f.detail}`)
    lines.push(`          What to do: ${f.action}`)
    lines.push('')
  }
  lines.push(
    r.healthy
      ? 'Healthy: nothing to fix.'
      : `${r.findings.filter((f) => f.severity !== 'info').length} problem(s) found.`,
  )
  return lines.join('\n') + '\n'
}
