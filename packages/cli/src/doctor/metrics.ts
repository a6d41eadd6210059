/** Reads a node's Prometheus text endpoint. */

export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

/** Parses the Prometheus text exposition format (samples only; comments skipped). */
export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line)
    if (m === null) continue
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]] = l[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))
    out.push({ name: m[1], labels, value: Number(m[3]) })
  }
  return out
}

/** GETs `url` within `timeoutMs`; rejects with a one-line reason. */
export async function scrape(url: string, timeoutMs: number): Promise<Sample[]> {
  let res: Response
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } }
    throw new Error(e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (e.cause?.code ?? e.message), {
      cause: err,
    })
  }
  if (!res.ok) throw new Error(`HTTP ${res.status}`)
  return parsePrometheus(await res.text())
}
