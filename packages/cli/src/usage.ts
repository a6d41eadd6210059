/** Usage texts: `tentacle --help` and `tentacle <command> --help`. */
export const USAGE: Record<string, string> = {
  main: `Usage: tentacle <command> [options]

Commands:
  keygen    create a secp256k1 key file and print its peer id
  node      run a node: listen, dial bootnodes, serve metrics
  dial      connect to a peer and time every phase of the handshake
  doctor    explain what the kernel and a node's metrics say is wrong
  testnet   run a local multi-node test net

Run 'tentacle <command> --help' for a command's options.`,

  keygen: `Usage: tentacle keygen [--out FILE] [--force] [--json]

Creates a new secp256k1 identity. With --out, writes the secret as 64 hex
characters to FILE (mode 0600, refusing to overwrite unless --force) and
prints the peer id; without it, prints the secret on stdout and the peer id
on stderr.

  --out FILE   where to write the key
  --force      overwrite FILE if it exists
  --json       print {"peerId", "file"} as one JSON object`,

  node: `Usage: tentacle node --listen ADDR... [options]

Runs a node until SIGINT or SIGTERM (graceful close, bounded by
--shutdown-timeout; a second signal exits at once). Logs go to stderr (JSON,
pretty on a terminal); stdout gets one JSON line when the node is ready:
{"event":"ready","peerId","listen":[...],"metrics","status","pid"}.

  --listen ADDR          listen address, e.g. /ip4/127.0.0.1/tcp/8115 (repeatable)
  --bootnode ADDR        peer to dial, /ip4/H/tcp/P/p2p/ID (repeatable)
  --key FILE             identity key file (tentacle keygen); default: a new key each run
  --preset NAME          protocols: tentacle (default) or ckb
  --network-name NAME    identify network name (default: the preset's)
  --max-connections N    sessions + handshakes + dials (default 65535)
  --max-outbound N       outbound sessions discovery keeps (default: the preset's)
  --ping-interval MS     ping each peer every MS (default: the preset's)
  --ping-timeout MS      drop a peer whose ping is unanswered for MS
  --discovery-interval MS
  --outbound-interval MS how often to dial learned peers and feelers (default 15000, CKB's)
  --dial-interval MS     least time between two dials of one address (default 15000)
  --allow-local-addresses  share and dial loopback/private addresses (local test nets)
  --address-book FILE    keep learned addresses in FILE
  --handshake-timeout MS the connect/handshake/select deadline (default 10000)
  --listen-backlog N     listen(2) backlog (default 4096)
  --metrics HOST:PORT    serve GET /metrics (Prometheus) and GET /status (JSON);
                         default 127.0.0.1:0 (a free port, in the ready line); 'off' for none
  --log-level LEVEL      fatal, error, warn, info (default), debug, trace, silent
  --log-format FORMAT    json or pretty (default: pretty on a terminal, else json)
  --shutdown-timeout MS  graceful close budget (default 5000)`,

  dial: `Usage: tentacle dial ADDR [--protocol NAME] [--versions V,...] [--json] [--timeout MS] [--key FILE]

Connects to ADDR (/ip4/H/tcp/P[/p2p/ID]) and prints every phase with its
time: TCP connect, secio propose / exchange / nonce echo, yamux, protocol
select; then the suite, the peer id and, when the peer speaks ping, the
ping RTT. Exits 1 with the failing phase named.

  --protocol NAME   protocol to select (default: the preset's ping, e.g. /ckb/ping);
                    a peer refusing the default ping is reported, not an error
  --versions V,...  versions to propose (default: the preset's, else 0.0.1)
  --preset NAME     tentacle (default) or ckb: which ping protocol to try
  --timeout MS      deadline for each phase group (default 10000)
  --key FILE        our identity (default: a new key)
  --json            print one JSON object`,

  doctor: `Usage: tentacle doctor [--port P | --pid PID] [--metrics URL] [--json] [--sample-ms MS]

Reads what an operator reads by hand and says what it means: listen-queue
overflows and drops (/proc/net/netstat), the accept-queue depth of the
listening socket and the sockets by TCP state (/proc/net/tcp, tcp6),
CLOSE_WAIT especially, open files against the limit (/proc/PID), and from
the node's metrics the event-loop delay and handshake failures by phase.
Exit code: 0 healthy, 1 findings at warn or worse, 2 usage.

  --port P         the node's listen port (its process is found by socket owner)
  --pid PID        the node's process (its listen ports are found from its sockets)
  --metrics URL    the node's metrics, e.g. http://127.0.0.1:9100/metrics (default: from
                   the node's command line when it says)
  --sample-ms MS   watch the kernel counters for MS (default 1000)
  --json           print one JSON object`,

  testnet: `Usage: tentacle testnet <subcommand> [options]

Runs a local multi-node test net (see 'tentacle testnet --help').`,
}

/** Prints a command's usage on stdout (for --help); exit code 0. */
export function printHelp(command: string): number {
  process.stdout.write((USAGE[command] ?? USAGE.main) + '\n')
  return 0
}
