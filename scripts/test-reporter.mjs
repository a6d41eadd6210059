// A node:test reporter for a person at a terminal (scripts/run-tests.mjs uses it unless TAP is
// asked for or CI is set): one line per test file as the file finishes (pass/fail counts,
// seconds), every failure in full at the end (test name, location, error, and the file's captured
// output), then node:test's own closing lines (`# tests N`, `# pass N`, `# fail N`, ...) and one
// plain line with the totals.
//
// It reads node:test's events (node ≥ 20.19 with process isolation): each test file is a test at
// nesting 0 named by its path, whose `test:complete` arrives when the file's process has ended.
import { readFileSync } from 'node:fs'
import { relative } from 'node:path'
import { inspect } from 'node:util'

/** Lines of a file's stdout/stderr kept for its failure report. */
const OUTPUT_LINES = 60
/** Stack frames shown under an error (node internals dropped first). */
const STACK_FRAMES = 8

const CANCELLED = new Set(['cancelledByParent', 'testTimeoutFailure'])

/** A human-readable reporter; `opts.color` and `opts.tty` default to the terminal's. */
export function humanReporter(opts = {}) {
  const color = opts.color ?? (process.stdout.isTTY === true && !process.env.NO_COLOR)
  const tty = opts.tty ?? process.stdout.isTTY === true
  const cwd = opts.cwd ?? process.cwd()
  const paint = (code, s) => (color ? `\x1b[${code}m${s}\x1b[0m` : s)
  const red = (s) => paint(31, s)
  const green = (s) => paint(32, s)
  const dim = (s) => paint(2, s)
  const rel = (file) => (file ? relative(cwd, file) || file : '(no file)')

  return async function* report(source) {
    /** file path -> { pass, fail, cancelled, skipped, output: string[], names: string[], failures: [] } */
    const files = new Map()
    const failedFiles = []
    const totals = new Map()
    let filesDone = 0
    let transient = false
    const started = Date.now()

    const fileState = (file) => {
      let s = files.get(file)
      if (s === undefined) {
        s = { pass: 0, fail: 0, cancelled: 0, skipped: 0, output: [], names: [], failures: [] }
        files.set(file, s)
      }
      return s
    }
    const clear = () => {
      if (!transient) return ''
      transient = false
      return '\r\x1b[K'
    }

    for await (const { type, data } of source) {
      switch (type) {
        case 'test:dequeue':
          if (tty && data.nesting === 0 && data.name === data.file) {
            yield `${clear()}${dim(`… ${rel(data.file)}`)}`
            transient = true
          }
          break
        case 'test:start':
          if (data.file !== undefined) fileState(data.file).names[data.nesting] = data.name
          break
        case 'test:stdout':
        case 'test:stderr': {
          if (data.file === undefined) break
          const out = fileState(data.file).output
          for (const line of String(data.message).replace(/\n$/, '').split('\n')) out.push(line)
          if (out.length > OUTPUT_LINES) out.splice(0, out.length - OUTPUT_LINES)
          break
        }
        case 'test:pass': {
          if (data.file === undefined || data.details?.type === 'suite' || isFile(data)) break
          const s = fileState(data.file)
          if (data.skip !== undefined || data.todo !== undefined) s.skipped++
          else s.pass++
          break
        }
        case 'test:fail': {
          if (data.file === undefined) break
          const s = fileState(data.file)
          const error = data.details?.error
          const kind = error?.failureType
          if (!isFile(data) && data.details?.type !== 'suite') {
            if (CANCELLED.has(kind)) s.cancelled++
            else s.fail++
          }
          // A parent that failed only because a child did adds nothing; a cancelled sibling of a
          // failure is listed by name only.
          if (kind === 'subtestsFailed') break
          const path = isFile(data) ? [] : [...s.names.slice(0, data.nesting), data.name]
          s.failures.push({ path, error, fileLevel: isFile(data) })
          break
        }
        case 'test:complete': {
          if (!isFile(data)) break
          const s = fileState(data.file)
          filesDone++
          const ok = data.details?.passed === true
          const counts = [
            s.fail + s.cancelled > 0 ? red(`${s.fail + s.cancelled} failed`) : '',
            `${s.pass} passed`,
            s.skipped > 0 ? `${s.skipped} skipped` : '',
          ].filter(Boolean)
          const why = ok ? '' : fileProblem(data.details?.error)
          const mark = ok ? green('✔') : red('✖')
          yield `${clear()}${mark} ${rel(data.file)}  ${counts.join(', ')}  ${dim(seconds(data.details?.duration_ms))}${why ? '  ' + red(why) : ''}\n`
          if (!ok) failedFiles.push(data.file)
          else files.delete(data.file) // nothing more to say about it
          break
        }
        case 'test:diagnostic':
          // The run's closing counters come from the root test (no file); a test's own
          // diagnostics stay out of the summary.
          if (data.file === undefined && data.nesting === 0) {
            const m = /^(\w+) (\S+)$/.exec(data.message)
            if (m) totals.set(m[1], m[2])
          }
          break
      }
    }

    let out = clear()
    const failures = failedFiles.flatMap((file) => files.get(file).failures.map((f) => ({ file, ...f })))
    if (failures.length > 0) {
      out += `\n${red(`Failures (${failures.length})`)}\n`
      for (const f of failures) out += '\n' + describeFailure(f)
      for (const file of failedFiles) {
        const lines = files.get(file).output
        if (lines.length === 0) continue
        out += `\n${dim(`output of ${rel(file)} (last ${lines.length} lines):`)}\n`
        out += lines.map((l) => `  ${l}`).join('\n') + '\n'
      }
    }
    out += '\n'
    for (const [key, value] of totals) out += `# ${key} ${value}\n`
    const n = (key) => Number(totals.get(key) ?? 0)
    const failed = n('fail') + n('cancelled')
    const took = seconds(Number(totals.get('duration_ms') ?? Date.now() - started))
    out +=
      `${filesDone} test files in ${took}` +
      (failedFiles.length > 0 ? `, ${red(`${failedFiles.length} failed`)}: ${failedFiles.map(rel).join(' ')}` : '') +
      '\n'
    // The plain closing line (read by CI parsers as well as people); cancelled and timed-out
    // tests count as failed here.
    out += `tests: ${n('pass')} passed, ${failed} failed, ${n('skipped') + n('todo')} skipped\n`
    yield out

    function describeFailure({ file, path, error, fileLevel }) {
      const title = fileLevel ? `${rel(file)} (the file itself)` : `${rel(file)} › ${path.join(' › ')}`
      const cause = error?.cause
      const where = locate(cause, file) ?? declaredAt(file, fileLevel ? undefined : path.at(-1))
      let body
      if (fileLevel) body = fileProblem(error) || String(error?.message ?? error)
      else if (CANCELLED.has(error?.failureType)) body = String(error?.message ?? error)
      else if (cause instanceof Error) body = formatError(cause)
      else body = String(cause ?? error?.message ?? error)
      return `${red('✖')} ${title}\n${where ? `  ${dim(`at ${where}`)}\n` : ''}${indent(body)}\n`
    }

    /**
     * Where a test is declared, found by its name as a string literal in its file: node:test
     * reports the position in tsx's output, not in the .ts source.
     */
    function declaredAt(file, name) {
      if (name === undefined) return undefined
      let text
      try {
        text = readFileSync(file, 'utf8')
      } catch {
        return undefined
      }
      const lines = text.split('\n')
      for (const q of ["'", '"', '`']) {
        const literal = q + name + q
        const i = lines.findIndex((l) => l.includes(literal))
        if (i >= 0) return `${rel(file)}:${i + 1}`
      }
      return undefined
    }

    /** The first stack frame in `file` (source-mapped by tsx), as path:line:column. */
    function locate(err, file) {
      const stack = typeof err?.stack === 'string' ? err.stack : ''
      for (const line of stack.split('\n')) {
        const m = /\(?((?:file:\/\/)?\/[^():]+):(\d+):(\d+)\)?\s*$/.exec(line)
        if (m && m[1].replace(/^file:\/\//, '') === file) return `${rel(file)}:${m[2]}:${m[3]}`
      }
      return undefined
    }
  }

  /** The error's stack without node's and node_modules' frames, its code, and its cause. */
  function formatError(err, depth = 0) {
    const text = typeof err.stack === 'string' && err.stack.length > 0 ? err.stack : String(err)
    const kept = []
    let frames = 0
    for (const line of text.split('\n')) {
      if (/^\s+at /.test(line)) {
        if (/\(node:|at node:|node_modules\/|\(<anonymous>\)/.test(line)) continue
        if (++frames > STACK_FRAMES) continue
      }
      kept.push(line)
    }
    if (typeof err.code === 'string' && !kept[0]?.includes(err.code)) kept.push(`code: ${err.code}`)
    if (err.cause !== undefined && depth < 2) {
      const cause =
        err.cause instanceof Error ? formatError(err.cause, depth + 1) : inspect(err.cause, { colors: color })
      kept.push(`caused by: ${cause}`)
    }
    return kept.join('\n')
  }
}

/** True for the event of a test file as a whole (the runner names it by its path). */
function isFile(data) {
  return data.nesting === 0 && data.name === data.file
}

/** Why a file failed as a whole, or '' when only tests inside it failed. */
function fileProblem(error) {
  if (error === undefined || error.failureType === 'subtestsFailed') return ''
  if (error.failureType === 'testTimeoutFailure') return String(error.message)
  if (error.signal) return `its process was killed by ${error.signal}`
  if (error.exitCode !== undefined && error.exitCode !== null) return `its process exited with code ${error.exitCode}`
  return String(error.message ?? '')
}

function seconds(ms) {
  if (!Number.isFinite(ms)) return ''
  const s = ms / 1000
  return s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`
}

function indent(text) {
  return text
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n')
}

export default humanReporter()
