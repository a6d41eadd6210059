#!/usr/bin/env node
// The public API of every package, recorded with API Extractor in api/<package>.api.md.
//
//   node scripts/api-report.mjs            check: fails when a package's surface differs
//                                          from its committed report (npm run api:check)
//   node scripts/api-report.mjs --update   rewrites the reports (npm run api:update)
//
// Reads the built declarations (packages/*/dist/index.d.ts, built with
// stripInternal so `@internal` members are not part of the surface): run
// `npm run build` (or `tsc -b`) first. A change to the public surface is a
// deliberate act: update the report and commit it with the change.
import { Extractor, ExtractorConfig } from '@microsoft/api-extractor'
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const update = process.argv.includes('--update')
const only = process.argv.slice(2).filter((a) => !a.startsWith('--'))
const packages = only.length > 0 ? only : readdirSync(join(root, 'packages')).sort()
const temp = mkdtempSync(join(tmpdir(), 'tentacle-ts-api-'))
const failed = []

try {
  for (const name of packages) {
    const pkgDir = join(root, 'packages', name)
    const entry = join(pkgDir, 'dist', 'index.d.ts')
    if (!existsSync(entry)) {
      failed.push(`${name}: ${entry} missing (build first: tsc -b)`)
      continue
    }
    const config = ExtractorConfig.prepare({
      configObject: {
        projectFolder: pkgDir,
        mainEntryPointFilePath: entry,
        compiler: {
          overrideTsconfig: {
            compilerOptions: {
              target: 'ES2022',
              lib: ['ES2023'],
              module: 'NodeNext',
              moduleResolution: 'NodeNext',
              strict: true,
              skipLibCheck: true,
              types: ['node'],
            },
            include: [join(pkgDir, 'dist', '**', '*.d.ts')],
          },
        },
        apiReport: {
          enabled: true,
          reportFileName: `${name}.api.md`,
          reportFolder: join(root, 'api'),
          reportTempFolder: temp,
        },
        docModel: { enabled: false },
        dtsRollup: { enabled: false },
        tsdocMetadata: { enabled: false },
        messages: {
          compilerMessageReporting: { default: { logLevel: 'warning' } },
          extractorMessageReporting: {
            default: { logLevel: 'warning' },
            // No release tags (alpha/beta/public) in this project: everything exported is public.
            'ae-missing-release-tag': { logLevel: 'none' },
            // Reported in the .api.md itself, where a reviewer sees them.
            'ae-forgotten-export': { logLevel: 'none', addToApiReportFile: true },
            'ae-internal-missing-underscore': { logLevel: 'none' },
            // The report marks each one "(undocumented)"; the console would list hundreds.
            'ae-undocumented': { logLevel: 'none' },
            // {@link} to a member by its bare name: a documentation nit, not the surface.
            'ae-unresolved-link': { logLevel: 'none' },
          },
          tsdocMessageReporting: { default: { logLevel: 'none' } },
        },
      },
      configObjectFullPath: join(pkgDir, 'api-extractor.json'),
      packageJsonFullPath: join(pkgDir, 'package.json'),
    })
    const result = Extractor.invoke(config, { localBuild: update, showVerboseMessages: false, messageCallback: quiet })
    if (!update && result.apiReportChanged) {
      failed.push(
        `${name}: the public API differs from api/${name}.api.md (run npm run api:update, review and commit the report)`,
      )
    } else if (result.errorCount > 0 || (!update && result.warningCount > 0)) {
      failed.push(`${name}: API Extractor reported ${result.errorCount} error(s), ${result.warningCount} warning(s)`)
    } else {
      console.log(`${name}: ${update ? 'api/' + name + '.api.md written' : 'matches api/' + name + '.api.md'}`)
    }
  }
} finally {
  rmSync(temp, { recursive: true, force: true })
}

/** Keeps API Extractor's banner and per-file chatter off the console; errors still print. */
function quiet(message) {
  if (message.logLevel === 'info' || message.logLevel === 'verbose') message.handled = true
}

if (failed.length > 0) {
  for (const f of failed) console.error(f)
  process.exit(1)
}
