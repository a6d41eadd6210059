/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes manifests parsed from YAML, walked by path */
/**
 * k8s/: the test net on a Kubernetes cluster. Validated offline against the Kubernetes schemas
 * (kubernetes-validate, installed by test/testnet/k8s-validate.sh into ~/.cache; if it cannot be
 * installed this fails and says so), and checked for what the schemas cannot see: the bootnode
 * id matches its key, the Service is headless and selects the pods, metrics are scraped.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { parseAllDocuments } from 'yaml'
import { SecioKeyPair } from '@tentacle-ts/secio'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const SCRIPT = join(ROOT, 'test/testnet/k8s-validate.sh')
const K8S = join(ROOT, 'k8s')

function validate(files: string[] = []): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('bash', [SCRIPT, ...files], { cwd: ROOT, timeout: 300_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, out: stdout + stderr })
    })
  })
}

type Doc = { kind: string; metadata: { name: string; annotations?: Record<string, string> }; [k: string]: unknown }
const docs: Doc[] = readdirSync(K8S)
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((f) => parseAllDocuments(readFileSync(join(K8S, f), 'utf8')).map((d) => d.toJS() as Doc))
const byKind = (kind: string): Doc => {
  const d = docs.find((x) => x.kind === kind)
  assert.ok(d !== undefined, `no ${kind} in k8s/`)
  return d
}

describe('k8s manifests', { timeout: 320_000 }, () => {
  test('pass strict validation against the Kubernetes schemas (offline)', async () => {
    const { code, out } = await validate()
    assert.notEqual(code, 3, `kubernetes-validate could not be installed, so nothing was validated:\n${out}`)
    assert.equal(code, 0, out)
    for (const f of readdirSync(K8S).filter((x) => x.endsWith('.yaml')))
      assert.match(out, new RegExp(`k8s/${f} passed`))
  })

  test('the validator rejects a manifest with an unknown field (the check can fail)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'k8s-bad-'))
    try {
      const bad = join(dir, 'bad.yaml')
      writeFileSync(bad, readFileSync(join(K8S, 'statefulset.yaml'), 'utf8').replace('  replicas: 5', '  replica: 5'))
      const { code, out } = await validate([bad])
      assert.notEqual(code, 3, out)
      assert.notEqual(code, 0, `a misspelt field passed:\n${out}`)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('pod 0 is the bootnode: its key in the Secret has the peer id the other pods dial', async () => {
    const secret = byKind('Secret') as Doc & { stringData: Record<string, string> }
    const dir = mkdtempSync(join(tmpdir(), 'k8s-key-'))
    try {
      writeFileSync(join(dir, 'node.key'), secret.stringData['node.key'])
      const id = (await SecioKeyPair.load(join(dir, 'node.key'))).peerId.toString()
      const sts = byKind('StatefulSet') as Doc & { spec: any }
      const c = sts.spec.template.spec.containers[0]
      assert.equal(c.env.find((e: { name: string }) => e.name === 'BOOTNODE_PEER_ID').value, id)
      const script: string = c.args[0]
      assert.match(script, /\*-0\) exec .* node \$common --key \/keys\/node\.key/)
      assert.match(
        script,
        /--bootnode "\/dns4\/\$\{POD_NAME%-\*\}-0\.\$SERVICE_NAME\.\$POD_NAMESPACE\.svc\.cluster\.local\/tcp\/8115\/p2p\/\$BOOTNODE_PEER_ID"/,
      )
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('a headless Service names the pods; metrics are scraped by annotation', () => {
    const svc = byKind('Service') as Doc & { spec: any }
    const sts = byKind('StatefulSet') as Doc & { spec: any }
    assert.equal(svc.spec.clusterIP, 'None')
    assert.equal(svc.spec.publishNotReadyAddresses, true)
    assert.equal(sts.spec.serviceName, svc.metadata.name)
    const labels = sts.spec.template.metadata.labels
    for (const [k, v] of Object.entries(svc.spec.selector)) assert.equal(labels[k], v)
    const a = sts.spec.template.metadata.annotations
    assert.equal(a['prometheus.io/scrape'], 'true')
    const c = sts.spec.template.spec.containers[0]
    const metricsPort = c.ports.find((p: { name: string }) => p.name === 'metrics').containerPort
    assert.equal(Number(a['prometheus.io/port']), metricsPort)
    assert.match(c.args[0], new RegExp(`--metrics 0\\.0\\.0\\.0:${metricsPort}`))
    assert.equal(c.readinessProbe.httpGet.path, '/status')
  })
})
