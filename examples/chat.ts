// Chat: tentacle-ts nodes on loopback that find each other through discovery
// from one bootnode and exchange chat lines defined in examples/chat.proto.
//
//   node --conditions=source --import tsx examples/chat.ts [--nodes N]
//       N nodes (default 3) in this process. Node 1 is the bootnode; every
//       other node is told only node 1's address and meets the rest through
//       discovery (CKB's protocols: identify, ping, discovery, feeler). A line
//       typed on stdin is said by node 1; "@K text" is said by node K;
//       "/peers" prints every node's peers with their ping round trip.
//       Ctrl-D (end of input) shuts every node down.
//   ... chat.ts --script [--nodes N] [--timeout-ms MS]
//       non-interactive: waits until every node is connected to every other,
//       lets each node say one line, checks that every other node printed it,
//       exits 0 (1 on timeout)
//   ... chat.ts --single [--nick NAME] [--port P] [--bootnode /ip4/…/p2p/Qm…]
//       one node per process, for a chat across terminals: the first one
//       without --bootnode, the others with the address it prints
//
// Every node prints lines starting "node K| " (--single: no prefix).
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { loadProtobufCodec, typedProtocol, type MessageCodec } from '@tentacle-ts/codec'
import { createNetworkProtocols, type NetworkProtocols } from '@tentacle-ts/protocols'
import { SecioKeyPair } from '@tentacle-ts/secio'
import { ServiceBuilder, type ProtocolSessionContext, type Service } from '@tentacle-ts/tentacle'

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '3' },
    script: { type: 'boolean', default: false },
    'timeout-ms': { type: 'string', default: '60000' },
    single: { type: 'boolean', default: false },
    nick: { type: 'string' },
    port: { type: 'string', default: '0' },
    bootnode: { type: 'string' },
  },
})

/** chat.ChatLine from chat.proto, as protobufCodec decodes it (uint64 as decimal strings). */
interface ChatLine {
  origin: string
  seq: string
  nick: string
  text: string
  sentAtMs: string
}

const CHAT = { id: 100, name: '/tentacle-ts/chat', versions: ['1'] }
/** Every node of one chat net uses the same identify name; a node with another name is refused. */
const NETWORK_NAME = '/tentacle-ts/chat'
/** How many (origin, seq) a node remembers to drop lines it has already printed and passed on. */
const SEEN_LIMIT = 4096

const codec: MessageCodec<ChatLine> = await loadProtobufCodec<ChatLine>(
  fileURLToPath(new URL('chat.proto', import.meta.url)),
  'chat.ChatLine',
)

interface ChatNode {
  readonly nick: string
  readonly service: Service
  readonly net: NetworkProtocols
  /** This node's address with its /p2p/ id. */
  readonly address: string
  say(text: string): void
  close(): Promise<void>
}

/**
 * One chat node: CKB's base protocols (with local addresses allowed and short
 * intervals, for a net on loopback) plus the chat protocol. A line seen for
 * the first time is printed and passed to every other peer.
 */
async function startNode(opts: {
  nick: string
  port: string
  bootnodes: string[]
  print: (line: string) => void
  /** A chat line arrived for the first time. */
  onLine?: (line: ChatLine) => void
  /** The chat protocol opened or closed on a session. */
  onChange?: () => void
  /** The outbound dial tick; nodes with different ticks do not dial each other in lockstep. */
  tickMs: number
}): Promise<ChatNode> {
  const { print } = opts
  const seen = new Set<string>()
  const firstSight = (line: ChatLine): boolean => {
    const id = `${line.origin}/${line.seq}`
    if (seen.has(id)) return false
    seen.add(id)
    if (seen.size > SEEN_LIMIT) seen.delete(seen.values().next().value as string)
    return true
  }
  let service!: Service
  const relay = (line: ChatLine, exceptSession?: number): void => {
    service.broadcast({ kind: 'filter', filter: (s) => s.id !== exceptSession }, CHAT.id, chat.encode(line))
  }
  const chat = typedProtocol({
    ...CHAT,
    codec,
    handler: {
      connected(ctx: ProtocolSessionContext) {
        print(`connected to ${ctx.session.remotePeerId} (${ctx.session.direction})`)
        opts.onChange?.()
      },
      disconnected(ctx: ProtocolSessionContext) {
        print(`disconnected from ${ctx.session.remotePeerId}`)
        opts.onChange?.()
      },
      received(ctx: ProtocolSessionContext, line) {
        if (!firstSight(line)) return
        opts.onLine?.(line)
        print(`<${line.nick}> ${line.text}`)
        relay(line, ctx.session.id)
      },
    },
  })

  const net = createNetworkProtocols({
    preset: 'ckb',
    networkName: NETWORK_NAME,
    clientVersion: 'tentacle-ts-chat/0.1.0',
    bootnodes: opts.bootnodes,
    allowLocalAddresses: true,
    // CKB's timings are minutes apart (a 60 s announce tick, 15 s between a
    // feeler and the full dial); a loopback demo runs them every second.
    discoveryIntervalMs: 1_000,
    outboundIntervalMs: opts.tickMs,
    dialIntervalMs: 1_000,
    // Two nodes that feeler-dial each other at the same moment both fail
    // (each already has the other's inbound session): retry soon, not in a minute.
    feelerRetryMs: 2_000,
    pingIntervalMs: 2_000,
    pingTimeoutMs: 10_000,
    maxOutbound: 8,
    // CKB bans a misbehaving peer's whole IP (a chat line that does not
    // decode is a protocol error: 5 minutes). On loopback every node shares
    // 127.0.0.1, so a ban would cut this node off from all the others:
    // disconnect the one peer instead.
    onMisbehaviour: (report) => (report.ckbVerdict === 'ban' ? 'disconnect' : report.ckbVerdict),
  })
  const builder = new ServiceBuilder().key(SecioKeyPair.generate()).protocol(chat.spec)
  for (const spec of net.protocols) builder.protocol(spec)
  service = builder.build(
    net.serviceHandler({
      handleError: (e) => {
        // Routine in a discovering net: dials to addresses that went away, and
        // two nodes that dialed each other at once (one of the two connections is refused).
        if (e.type === 'dial-error' || e.error.code === 'TENTACLE_ERR_REPEATED_CONNECTION') return
        // A chat line that does not decode: protocol-error TENTACLE_ERR_PROTOCOL_CODEC, caused by CODEC_ERR_MESSAGE_DECODE.
        const cause = (e.error.cause as { code?: unknown } | undefined)?.code
        print(`error: ${e.type} ${e.error.code}${typeof cause === 'string' ? ` (${cause})` : ''}: ${e.error.message}`)
      },
    }),
  )
  net.on('discovered', (e) => {
    for (const a of e.addresses) print(`learned ${a.replace(/^(.*)\/p2p\/(\w+)$/, '$2 at $1')}`)
  })
  net.on('peer-dropped', (e) => {
    if (e.reason !== 'closed' && e.reason !== 'feeler') print(`dropped ${e.peerId ?? e.address}: ${e.reason}`)
  })
  net.attach(service)
  const bound = await service.listen(`/ip4/127.0.0.1/tcp/${opts.port}`)
  const address = bound.encapsulate(`/p2p/${service.peerId}`).toString()

  let seq = 0
  return {
    nick: opts.nick,
    service,
    net,
    address,
    say(text: string): void {
      const line: ChatLine = {
        origin: service.peerId ?? '',
        seq: String(++seq),
        nick: opts.nick,
        text,
        sentAtMs: String(Date.now()),
      }
      firstSight(line)
      relay(line)
    },
    async close(): Promise<void> {
      await net.close()
      await service.close()
    },
  }
}

// ---------------------------------------------------------------- one node per process

if (values.single) {
  const nick = values.nick ?? `user-${Math.random().toString(36).slice(2, 6)}`
  const node = await startNode({
    nick,
    port: values.port,
    bootnodes: values.bootnode === undefined ? [] : [values.bootnode],
    print: (l) => console.log(l),
    tickMs: 800 + Math.floor(Math.random() * 600),
  })
  console.log(`${nick} listening on ${node.address}`)
  console.log(
    values.bootnode === undefined
      ? `others join with: --single --bootnode ${node.address}`
      : `joining through ${values.bootnode}`,
  )
  const rl = createInterface({ input: process.stdin, terminal: false })
  rl.on('line', (text) => {
    if (text === '/peers') printPeers(node, (l) => console.log(l))
    else if (text.trim() !== '') node.say(text)
  })
  rl.once('close', () => void node.close())
} else {
  await runMany()
}

// ---------------------------------------------------------------- N nodes in this process

async function runMany(): Promise<void> {
  const count = Number(values.nodes)
  if (!Number.isInteger(count) || count < 2) {
    console.error('--nodes must be an integer >= 2')
    process.exit(2)
  }
  const nodes: ChatNode[] = []
  const byPeer = new Map<string, number>()
  const label = (peerId: string | undefined): string => {
    const k = peerId === undefined ? undefined : byPeer.get(peerId)
    return k === undefined ? (peerId ?? '?') : `node ${k}`
  }
  /** heard[k] = texts node k printed; for --script. */
  const heard: Array<Set<string>> = []
  const progress = new Set<() => void>()
  const poke = (): void => {
    for (const check of progress) check()
  }

  for (let k = 1; k <= count; k++) {
    const print = (line: string): void => {
      // Peer ids become "node K" once every node is known, so the output reads easily.
      console.log(`node ${k}| ${line.replace(/Qm[1-9A-HJ-NP-Za-km-z]{44}/g, (id) => label(id))}`)
      poke()
    }
    heard.push(new Set())
    const node = await startNode({
      nick: `node${k}`,
      port: '0',
      bootnodes: k === 1 ? [] : [nodes[0].address],
      print,
      onLine: (line) => heard[k - 1].add(line.text),
      onChange: poke,
      tickMs: 900 + 100 * k,
    })
    nodes.push(node)
    byPeer.set(node.service.peerId ?? '', k)
    console.log(`node ${k}| listening on ${node.address}${k === 1 ? ' (bootnode)' : `, bootnode: node 1`}`)
  }

  const connectedTo = (node: ChatNode): Set<number> =>
    new Set(
      node.service
        .sessions()
        .filter((s) => s.openProtocols.has(CHAT.id))
        .map((s) => byPeer.get(s.remotePeerId ?? ''))
        .filter((k): k is number => k !== undefined),
    )
  const meshComplete = (): boolean => nodes.every((n) => connectedTo(n).size === count - 1)
  const until = (pred: () => boolean, what: string, deadline: number): Promise<void> =>
    new Promise((resolve, reject) => {
      if (pred()) return resolve()
      // unref: the running nodes keep the process alive, a pending deadline alone does not.
      const timer = setTimeout(
        () => {
          progress.delete(check)
          reject(new Error(`timed out waiting for ${what}`))
        },
        Math.max(0, deadline - Date.now()),
      ).unref()
      const check = (): void => {
        if (!pred()) return
        clearTimeout(timer)
        progress.delete(check)
        resolve()
      }
      progress.add(check)
    })
  const shutdown = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => n.close()))
  }

  const deadline = Date.now() + Number(values['timeout-ms'])
  const meshAnnounced = until(meshComplete, 'every node connected to every other', deadline)
  void meshAnnounced.then(
    () => console.log(`chat: mesh complete, each of the ${count} nodes is connected to the ${count - 1} others`),
    (err: Error) => console.log(`chat: ${err.message}`),
  )

  if (values.script) {
    try {
      await meshAnnounced
      nodes.forEach((n, i) => n.say(`hello from node ${i + 1}`))
      const everyoneHeard = (): boolean =>
        heard.every((h, i) => nodes.every((_, j) => j === i || h.has(`hello from node ${j + 1}`)))
      await until(everyoneHeard, 'every line at every other node', deadline)
      console.log(`chat: every node printed the line of every other node`)
      process.exitCode = 0
    } catch (err) {
      console.log(`chat: FAILED: ${(err as Error).message}`)
      for (const [i, n] of nodes.entries())
        console.log(`chat: node ${i + 1} is connected to [${[...connectedTo(n)].join(', ')}]`)
      process.exitCode = 1
    }
    await shutdown()
    return
  }

  console.log('chat: type a line to say it as node 1, "@K text" as node K, "/peers" for the peer tables; Ctrl-D quits')
  const rl = createInterface({ input: process.stdin, terminal: false })
  rl.on('line', (input) => {
    if (input === '/peers') {
      for (const [i, n] of nodes.entries())
        printPeers(n, (l) =>
          console.log(`node ${i + 1}| ${l.replace(/Qm[1-9A-HJ-NP-Za-km-z]{44}/g, (id) => label(id))}`),
        )
      return
    }
    const m = input.match(/^@(\d+)\s+(.*)$/)
    const k = m === null ? 1 : Number(m[1])
    const text = m === null ? input : m[2]
    if (text.trim() === '') return
    if (k < 1 || k > count) return console.log(`chat: there is no node ${k}`)
    nodes[k - 1].say(text)
  })
  rl.once('close', () => {
    console.log('chat: end of input, shutting down')
    void shutdown()
  })
}

function printPeers(node: ChatNode, print: (line: string) => void): void {
  const peers = node.net.peers()
  if (peers.length === 0) print('no peers')
  for (const p of peers) {
    const rtt = p.pingRttMs === undefined ? 'no ping yet' : `ping ${p.pingRttMs.toFixed(2)} ms`
    print(`peer ${p.peerId} ${p.direction} ${p.address}, ${rtt}`)
  }
}
