// The repository must stand on its own: every § citation resolves to a heading
// of docs/wire-protocol.md, every relative markdown link points to a file (and
// heading) that exists, and no file points outside the repository to the
// design/spec folder the project was started from.
//
// The checks are pure functions over (path, text) pairs; the first describe
// block proves on small inputs that each one fails when it should, the second
// runs them over the files of the repository.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join, posix } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = process.env.TENTACLE_TS_ROOT ?? fileURLToPath(new URL('..', import.meta.url))
const WIRE_DOC = 'docs/wire-protocol.md'

/**
 * The section numbers of the wire protocol. They are stable: code cites them,
 * so docs/wire-protocol.md keeps every one as a heading.
 */
const WIRE_SECTIONS = [
  '0',
  '0.1',
  '0.2',
  '1',
  '2',
  '2.1',
  '2.2',
  '2.3',
  '3',
  '3.1',
  '3.2',
  '3.3',
  '3.4',
  '3.5',
  '3.6',
  '3.7',
  '3.8',
  '3.9',
  '3.10',
  '3.11',
  '3.12',
  '3.13',
  '3.14',
  '4',
  '4.1',
  '4.2',
  '4.3',
  '5',
  '5.1',
  '5.2',
  '5.3',
  '6',
  '6.1',
  '6.2',
  '7',
  '7.1',
  '7.2',
  '8',
  '8.1',
  '8.2',
  '8.3',
  '8.4',
  '8.5',
  '8.6',
  '8.7',
  '8.8',
  '8.9',
  '9',
  '9.1',
  '9.2',
  '9.3',
  '9.4',
  '10',
  '10.1',
  '10.2',
  '10.3',
  '10.4',
  '11',
  '11.0',
  '11.1',
  '11.2',
  '11.3',
  '11.4',
  '11.5',
  '11.6',
  '12',
  '12.1',
  '12.2',
  '12.3',
  '12.4',
  '13',
  '14',
  '15',
  '15.1',
  '15.2',
  '15.3',
  '15.4',
  '15.5',
  '15.6',
  '15.7',
  '15.8',
  '15.9',
  '15.10',
  '15.11',
  '15.12',
  '16',
]

/** Spelled in pieces so that this file does not contain what it forbids. */
const FORBIDDEN = [['..', 'shared'].join('/'), ['shared', 'spec'].join('/'), ['shared', 'design'].join('/')]

/** Files never scanned: generated lock files (hashes, no prose). */
const SKIP_FILES = new Set(['package-lock.json', 'Cargo.lock', 'go.sum'])
const SKIP_DIRS = new Set(['node_modules', 'dist', 'target', 'coverage', '.git', '.cache', 'vendor'])

interface TextFile {
  path: string // repository-relative, with '/'
  text: string
}

interface Problem {
  path: string
  line: number
  what: string
}

const fmt = (ps: Problem[]): string => ps.map((p) => `${p.path}:${p.line}: ${p.what}`).join('\n')

function lineOf(text: string, index: number): number {
  let n = 1
  for (let i = text.indexOf('\n'); i !== -1 && i < index; i = text.indexOf('\n', i + 1)) n++
  return n
}

/** Section numbers that are headings (`## §3.10 …`) of a markdown text. */
function sectionHeadings(markdown: string): string[] {
  const out: string[] = []
  for (const m of stripFences(markdown).matchAll(/^#{1,6}[ \t]+§(\d+(?:\.\d+)?)(?![.\d])/gm)) out.push(m[1])
  return out
}

/**
 * Every `§N` / `§N.M` in `file` that is not a heading of the wire document.
 * A range `§3.6–3.7` (or `§3.6-3.7`) checks both ends.
 */
function badCitations(file: TextFile, sections: ReadonlySet<string>): Problem[] {
  const out: Problem[] = []
  for (const m of file.text.matchAll(/§(\d+(?:\.\d+)?)(?:[–-](\d+(?:\.\d+)?)(?![.\d]))?/g)) {
    for (const n of [m[1], m[2]]) {
      if (n !== undefined && !sections.has(n)) {
        out.push({ path: file.path, line: lineOf(file.text, m.index), what: `§${n} is not a heading of ${WIRE_DOC}` })
      }
    }
  }
  return out
}

/** Replaces fenced code blocks by blank lines (line numbers stay right). */
function stripFences(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, (block) => block.replace(/[^\n]/g, ''))
}

/** Also blanks inline code spans: a path in backticks is text, not a link. */
function stripCode(markdown: string): string {
  return stripFences(markdown).replace(/(`+)[^`\n]*?\1/g, (span) => ' '.repeat(span.length))
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to '-'. */
function githubSlug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // links keep their text
    .replace(/`/g, '')
    .replace(/(\*\*|__)(.*?)\1/g, '$2')
    .replace(/\*/g, '')
  return text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\p{M}\p{Pc}\s-]/gu, '')
    .replace(/\s/g, '-')
}

/** The anchors a markdown text defines (GitHub numbering of repeated headings). */
function anchorsOf(markdown: string): Set<string> {
  const seen = new Map<string, number>()
  const out = new Set<string>()
  for (const m of stripFences(markdown).matchAll(/^#{1,6}[ \t]+(.+?)[ \t#]*$/gm)) {
    const base = githubSlug(m[1])
    const n = seen.get(base) ?? 0
    seen.set(base, n + 1)
    out.add(n === 0 ? base : `${base}-${n}`)
  }
  for (const m of markdown.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) out.add(m[1])
  return out
}

/** `[text](target "title")` and `![alt](target)`. */
const INLINE_LINK = /\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g
/** `[label]: target "title"` on a line of its own. */
const REFERENCE_LINK = /^[ \t]*\[[^\]]+\]:[ \t]+<?(\S+?)>?(?:[ \t]+"[^"]*")?[ \t]*$/gm

/**
 * Relative links of a markdown file (`[t](target)`, `[t]: target`) whose file
 * or anchor does not exist. `read(path)` returns a repository file's text, or
 * undefined when there is no such file; `isDir(path)` says whether it is a folder.
 */
function badLinks(
  file: TextFile,
  read: (path: string) => string | undefined,
  isDir: (path: string) => boolean,
): Problem[] {
  const out: Problem[] = []
  const text = stripCode(file.text)
  const targets: Array<{ target: string; index: number }> = []
  for (const m of text.matchAll(INLINE_LINK)) targets.push({ target: m[1], index: m.index })
  for (const m of text.matchAll(REFERENCE_LINK)) targets.push({ target: m[1], index: m.index })
  for (const { target, index } of targets) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue // http:, https:, mailto:, ...
    const hash = target.indexOf('#')
    const pathPart = decodeURIComponent(hash === -1 ? target : target.slice(0, hash))
    const anchor = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1))
    const line = lineOf(file.text, index)
    const resolved = pathPart === '' ? file.path : posix.normalize(posix.join(posix.dirname(file.path), pathPart))
    if (resolved.startsWith('../') || resolved === '..') {
      out.push({ path: file.path, line, what: `link ${target} leaves the repository` })
      continue
    }
    const isFolder = pathPart !== '' && isDir(resolved)
    const body = isFolder ? undefined : read(resolved)
    if (!isFolder && body === undefined) {
      out.push({ path: file.path, line, what: `link ${target}: no file ${resolved}` })
      continue
    }
    if (
      anchor !== undefined &&
      anchor !== '' &&
      resolved.endsWith('.md') &&
      body !== undefined &&
      !anchorsOf(body).has(anchor)
    ) {
      out.push({ path: file.path, line, what: `link ${target}: no heading #${anchor} in ${resolved}` })
    }
  }
  return out
}

/** Mentions of the folder outside the repository that the project started from. */
function outsideReferences(file: TextFile): Problem[] {
  const out: Problem[] = []
  for (const needle of FORBIDDEN) {
    for (let i = file.text.indexOf(needle); i !== -1; i = file.text.indexOf(needle, i + 1)) {
      out.push({
        path: file.path,
        line: lineOf(file.text, i),
        what: `mentions ${needle} (outside the repository; cite docs/ instead)`,
      })
    }
  }
  return out
}

/** The repository's tracked files (git's index) when git is there, else a walk of the tree. */
function repositoryFiles(): string[] {
  try {
    const out = execFileSync('git', ['ls-files', '-z', '--cached'], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      maxBuffer: 64 * 1024 * 1024,
    })
    return [...new Set(out.split('\0').filter((p) => p !== ''))]
  } catch {
    const out: string[] = []
    const walk = (dir: string): void => {
      for (const name of readdirSync(join(ROOT, dir))) {
        if (SKIP_DIRS.has(name)) continue
        const p = dir === '' ? name : `${dir}/${name}`
        if (statSync(join(ROOT, p)).isDirectory()) walk(p)
        else out.push(p)
      }
    }
    walk('')
    return out
  }
}

/** Text files of the repository (lock files, binaries and files deleted in the work tree left out). */
function textFiles(): TextFile[] {
  const out: TextFile[] = []
  for (const path of repositoryFiles()) {
    const parts = path.split('/')
    if (SKIP_FILES.has(parts[parts.length - 1]) || parts.some((p) => SKIP_DIRS.has(p))) continue
    let buf: Buffer
    try {
      const abs = join(ROOT, path)
      const st = statSync(abs)
      if (!st.isFile() || st.size > 4 * 1024 * 1024) continue
      buf = readFileSync(abs)
    } catch {
      continue // deleted in the work tree but still in the index
    }
    if (buf.includes(0)) continue
    out.push({ path, text: buf.toString('utf8') })
  }
  return out.sort((a, b) => a.path.localeCompare(b.path))
}

function readRepo(path: string): string | undefined {
  const abs = join(ROOT, path)
  return existsSync(abs) && statSync(abs).isFile() ? readFileSync(abs, 'utf8') : undefined
}

function isRepoDir(path: string): boolean {
  const abs = join(ROOT, path)
  return existsSync(abs) && statSync(abs).isDirectory()
}

describe('the checks fail on broken input', () => {
  const sections = new Set(sectionHeadings('# Title\n## §3 Handshake\n### §3.10 Keys\n```\n## §9 in a fence\n```\n'))

  test('headings are found, fenced ones are not', () => {
    assert.deepEqual([...sections], ['3', '3.10'])
  })

  test('a citation of a missing section is reported with its line', () => {
    const probs = badCitations({ path: 'a.ts', text: '// §3.10 ok\n// see §3.1 and §3\n' }, sections)
    assert.deepEqual(probs, [{ path: 'a.ts', line: 2, what: `§3.1 is not a heading of ${WIRE_DOC}` }])
  })

  test('both ends of a range are checked', () => {
    assert.equal(badCitations({ path: 'a.md', text: '(§3–3.10)' }, sections).length, 0)
    assert.equal(badCitations({ path: 'a.md', text: '(§3.10–3.11)' }, sections).length, 1)
  })

  test('a link to a missing file, a missing heading or out of the repository is reported', () => {
    const files: Record<string, string> = { 'docs/a.md': '# Alpha beta\n## §3.10 Key `stretching`\n', 'src/x.ts': '' }
    const read = (p: string): string | undefined => files[p]
    const isDir = (p: string): boolean => p === 'src'
    const md = (text: string): Problem[] => badLinks({ path: 'docs/b.md', text }, read, isDir)
    assert.deepEqual(
      md('[a](a.md) [h](a.md#alpha-beta) [s](a.md#310-key-stretching) [d](../src) [f](../src/x.ts) [w](https://x.y/z)'),
      [],
    )
    assert.deepEqual(md('`[no](link.md)`\n```\n[no](fenced.md)\n```\n'), [])
    assert.match(fmt(md('\n[x](missing.md)')), /^docs\/b\.md:2: link missing\.md: no file docs\/missing\.md$/)
    assert.match(fmt(md('[x](a.md#nope)')), /no heading #nope in docs\/a\.md/)
    assert.match(fmt(md('[x](../../elsewhere.md)')), /leaves the repository/)
    assert.match(fmt(md('[ref]: ./gone.ts')), /no file docs\/gone\.ts/)
  })

  test('GitHub anchors: symbols dropped, repeats numbered', () => {
    assert.equal(
      githubSlug('§8.9 Differences from the hashicorp yamux spec'),
      '89-differences-from-the-hashicorp-yamux-spec',
    )
    assert.deepEqual([...anchorsOf('## Errors\n## Errors\n')], ['errors', 'errors-1'])
  })

  test('a path outside the repository is reported', () => {
    for (const needle of FORBIDDEN) {
      assert.equal(outsideReferences({ path: 'r.md', text: `see ${needle}/x.md` }).length, 1, needle)
    }
    assert.equal(outsideReferences({ path: 'r.md', text: 'see docs/wire-protocol.md' }).length, 0)
  })
})

describe('the repository stands on its own', () => {
  const files = textFiles()
  const wire = readRepo(WIRE_DOC)

  test(`${WIRE_DOC} keeps every section number as a heading, once`, () => {
    assert.ok(wire !== undefined, `${WIRE_DOC} is missing`)
    const heads = sectionHeadings(wire)
    const dup = heads.filter((h, i) => heads.indexOf(h) !== i)
    assert.deepEqual(dup, [], 'section headings used twice')
    const missing = WIRE_SECTIONS.filter((s) => !heads.includes(s))
    assert.deepEqual(missing, [], 'section numbers without a heading')
  })

  test('every § citation resolves to a heading of the wire document', () => {
    assert.ok(files.length > 50, `found only ${files.length} files`)
    const sections = new Set(sectionHeadings(wire ?? ''))
    const probs = files.flatMap((f) => badCitations(f, sections))
    assert.equal(probs.length, 0, fmt(probs))
  })

  test('every relative markdown link points to an existing file and heading', () => {
    const md = files.filter((f) => f.path.endsWith('.md'))
    assert.ok(
      md.some((f) => f.path === 'docs/README.md'),
      'docs/README.md is missing',
    )
    const probs = md.flatMap((f) => badLinks(f, readRepo, isRepoDir))
    assert.equal(probs.length, 0, fmt(probs))
  })

  test('no file refers to the design or spec folder outside the repository', () => {
    const probs = files.flatMap(outsideReferences)
    assert.equal(probs.length, 0, fmt(probs))
  })

  test('the files scanned are the repository, not the build output', () => {
    for (const p of ['package.json', 'README.md', WIRE_DOC])
      assert.ok(
        files.some((f) => f.path === p),
        `${p} not scanned`,
      )
    assert.ok(!files.some((f) => f.path.includes('/dist/') || f.path.startsWith('node_modules/')))
  })
})
