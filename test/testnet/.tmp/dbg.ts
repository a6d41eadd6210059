import { DockerTestNet, loadCompose, renderTable, waitForMesh, isFullMesh } from '../../../packages/cli/src/testnet/index.js'
const net = new DockerTestNet(loadCompose('docker-compose.yml'), { project: 'tndbg', build: false })
try {
  await net.up()
  await waitForMesh(net, { timeoutMs: 40000 })
  for (let round = 0; round < 4; round++) {
    await net.kill('node5'); await net.restart('node5')
    const t = Date.now()
    try { await waitForMesh(net, { timeoutMs: 30000 }); console.log('round', round, 'mesh after', Date.now() - t); continue } catch {}
    const rows = await net.status()
    console.log(renderTable(rows))
    const ids = Object.fromEntries(rows.map((r) => [r.name, r.peerId]))
    for (const r of rows) for (const o of rows) if (r !== o && !r.peers.includes(o.peerId!)) {
      console.log(`--- ${r.name} misses ${o.name}; ${r.name} log lines naming ${o.name}:`)
      console.log((await net.logs(r.name)).split('\n').filter((x) => x.includes(ids[o.name]!.slice(0, 20)) || x.includes('dial')).slice(-15).join('\n'))
    }
    break
  }
} finally { await net.down() }
