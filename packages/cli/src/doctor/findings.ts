import type { Finding, Observations } from './diagnose.js'
import type { Sample } from './metrics.js'

/** Turns observations (and the node's metrics, when read) into findings, worst first. */
export function findingsFor(o: Observations, metrics: Sample[] | undefined): Finding[] {
  const out: Finding[] = []
  const stopped = o.process !== undefined && (o.process.state === 'T' || o.process.state === 't')
  if (stopped) {
    out.push({
      id: 'process-stopped',
      severity: 'critical',
      title: `process ${o.pid} (${o.process?.comm}) is stopped`,
      detail:
        'It was stopped by SIGSTOP (or a debugger, or Ctrl-Z): it accepts no connections, answers no peer and no metrics request until it is continued. Peers see their handshakes time out.',
      action: `Continue it with: kill -CONT ${o.pid}`,
    })
  }

  for (const [port, q] of Object.entries(o.acceptQueue)) {
    if (q.min > 0) {
      out.push({
        id: 'accept-queue-stuck',
        severity: 'critical',
        title: `port ${port}: ${q.min}–${q.max} connections wait in the kernel's accept queue and are not being accepted`,
        detail:
          'The kernel completed these TCP handshakes, but the process has not called accept(2) for them during the whole sample. Its accept loop is stalled or its event loop is blocked (the seed incident: an accept loop that stopped being woken). Every peer that connects now waits until its handshake deadline (10 s) and fails; when the queue is full the kernel drops new connections (ListenOverflows).',
        action: stopped
          ? `The process is stopped: kill -CONT ${o.pid}.`
          : 'Look at the event-loop delay below; if the node stays stuck, take a stack (kill -USR1 for the inspector, or a core) and restart it.',
        data: { port: Number(port), ...q },
      })
    } else if (q.max > 0) {
      out.push({
        id: 'accept-queue-busy',
        severity: 'info',
        title: `port ${port}: the accept queue was briefly non-empty (up to ${q.max})`,
        detail:
          'Connections arrive faster than one event-loop turn takes them; they were accepted within the sample, which is normal under load.',
        action: 'Nothing, unless it comes with handshake timeouts or event-loop delay.',
        data: { port: Number(port), ...q },
      })
    }
  }

  const during = o.listenCounters?.duringSample
  if (during !== undefined && (during.listenOverflows > 0 || during.listenDrops > 0)) {
    const queued = Object.values(o.acceptQueue).some((q) => q.max > 0)
    out.push(
      queued
        ? {
            id: 'listen-overflow',
            severity: 'critical',
            title: `the kernel dropped ${during.listenDrops} connection attempts during the sample (${during.listenOverflows} accept-queue overflows)`,
            detail:
              "The node's accept queue is full, so the kernel throws away new SYNs and completed handshakes (TcpExt ListenOverflows/ListenDrops, what `nstat` shows). Peers see connect timeouts and retries.",
            action:
              'Fix what stops the node from accepting (see the accept-queue finding). A bigger --listen-backlog (and net.core.somaxconn) only buys time.',
            data: { ...during },
          }
        : {
            id: 'listen-overflow-elsewhere',
            severity: 'info',
            title: `the kernel dropped ${during.listenDrops} connection attempts during the sample, not on this node's ports`,
            detail:
              "ListenOverflows/ListenDrops count for the whole network namespace; this node's accept queues were empty, so another listener on this host is overflowing.",
            action: 'Run doctor on the other services of this host.',
            data: { ...during },
          },
    )
  }

  if (o.closeWaitPersistent > 0) {
    out.push({
      id: 'close-wait',
      severity: 'warn',
      title: `${o.closeWaitPersistent} sockets stayed in CLOSE_WAIT for the whole sample`,
      detail:
        'Their peers closed the connection, but this process has not closed its end. Each holds a file descriptor and memory until it does: a socket leak in the node, a stalled event loop, or connections still waiting in the accept queue. Growing counts end in EMFILE (the seed incident).',
      action:
        'Run doctor again: if the count grows, the node leaks sockets (report it with this output); restarting frees them.',
      data: { count: o.closeWaitPersistent },
    })
  }

  const synRecv = o.socketStates.SYN_RECV ?? 0
  if (synRecv >= 16) {
    out.push({
      id: 'syn-recv',
      severity: 'info',
      title: `${synRecv} connections in SYN_RECV`,
      detail: 'Half-open TCP handshakes: a burst of new peers, packet loss on the path back to them, or a SYN flood.',
      action: 'Nothing if short-lived; if persistent, check the network path and net.ipv4.tcp_syncookies.',
      data: { count: synRecv },
    })
  }

  if (o.fds !== undefined && o.fds.limit !== undefined) {
    const { open, limit } = o.fds
    const share = open / limit
    if (share >= 0.8) {
      out.push({
        id: 'fd-limit',
        severity: share >= 0.95 ? 'critical' : 'warn',
        title: `${open} of ${limit} file descriptors open (${Math.round(share * 100)}%)`,
        detail:
          "At the limit accept(2) fails with EMFILE: new peers cannot connect, and files (key, address book) cannot be opened. Node (libuv) then accepts and closes each new connection at once, so the node's accept-error counter stays at zero: this count is where it shows. Every TCP connection, including those in CLOSE_WAIT, costs one.",
        action: `Raise the limit (ulimit -n, systemd LimitNOFILE=, or prlimit --pid ${o.pid} --nofile=65536:65536), lower --max-connections, and look for leaked sockets (CLOSE_WAIT).`,
        data: { open, limit },
      })
    }
  }

  if (o.metrics !== undefined && !o.metrics.ok) {
    out.push({
      id: 'metrics-unreachable',
      severity: 'warn',
      title: `the metrics endpoint ${o.metricsUrl} did not answer (${o.metrics.error})`,
      detail: stopped
        ? 'The process is stopped, so it cannot answer.'
        : 'The node is not serving metrics there, or its event loop is blocked (an HTTP server on the same loop cannot answer either). Event-loop delay and handshake failures could not be read.',
      action: 'Check the --metrics address of the node; if it is right, the node is stuck (see the other findings).',
    })
  }
  if (metrics !== undefined) out.push(...metricFindings(metrics))

  const rank = { critical: 0, warn: 1, info: 2 }
  return out.sort((a, b) => rank[a.severity] - rank[b.severity])
}

const PHASE_MEANING: Record<string, string> = {
  'awaiting-propose':
    'The peer sent no (complete) Propose: it connected and stayed silent or closed at once. Inbound, that is port scanners, TCP health checks, a slowloris, or something that does not speak secio on this port; outbound, the peer is not accepting (full accept queue, stopped process — run doctor there) or is not a tentacle node.',
  'awaiting-exchange':
    'The peer sent its Propose but not its Exchange: it stalled mid-handshake, usually because its event loop (or ours) was blocked, or it refused our proposal (no common cipher/agreement: SECIO_ERR_NO_COMMON_SUITE).',
  'awaiting-nonce-echo':
    'Keys were agreed but the peer never echoed our nonce: it is overloaded or stalled, or the link dropped the last frame. Rare; repeated, it points at the peer.',
  '': 'The connection failed before the handshake started (closed or reset right after connect).',
}

/**
 * Event-loop delay worth a warning. Below it, a busy or shared host shows
 * blocks that no peer notices (the handshake deadline is 10 s, yamux
 * keepalive 30 s); at a second, handshakes and pings start to suffer.
 */
const LOOP_WARN_SECONDS = 0.5

function metricFindings(samples: Sample[]): Finding[] {
  const out: Finding[] = []
  const of = (name: string): Sample[] => samples.filter((s) => s.name === name)

  const acceptErrors = of('tentacle_accept_errors_total').filter((s) => s.value > 0)
  if (acceptErrors.length > 0) {
    const byCode = Object.fromEntries(acceptErrors.map((s) => [s.labels.code, s.value]))
    const fd = (byCode.EMFILE ?? 0) + (byCode.ENFILE ?? 0)
    out.push({
      id: 'accept-errors',
      severity: fd > 0 ? 'critical' : 'warn',
      title: `accept(2) failed: ${acceptErrors.map((s) => `${s.labels.code} ×${s.value}`).join(', ')}`,
      detail:
        fd > 0
          ? 'EMFILE/ENFILE: the process (or the system) ran out of file descriptors, so connections were accepted by the kernel and then dropped. The listener kept going, but peers were turned away.'
          : 'The kernel refused to hand over accepted connections; the listener kept accepting.',
      action:
        fd > 0
          ? 'Raise the open-files limit and look for leaked sockets (CLOSE_WAIT); see the file-descriptor finding.'
          : 'Check the errno in the node log (accept failed).',
      data: byCode,
    })
  }

  const loopMax = of('tentacle_event_loop_delay_seconds').find((s) => s.labels.quantile === '1')?.value
  const loop99 = of('tentacle_event_loop_delay_seconds').find((s) => s.labels.quantile === '0.99')?.value
  if (loopMax !== undefined && loopMax >= LOOP_WARN_SECONDS) {
    out.push({
      id: 'event-loop-delay',
      severity: loopMax >= 1 ? 'critical' : 'warn',
      title: `event-loop delay up to ${(loopMax * 1000).toFixed(0)} ms since the last scrape (p99 ${((loop99 ?? 0) * 1000).toFixed(0)} ms)`,
      detail:
        'While the loop is blocked nothing runs: no accept, no handshake step, no ping answer. Long blocks make peers time out (10 s handshake deadline) and fill the accept queue. Causes: synchronous CPU work or I/O in a handler, a huge message decode, GC pressure, a stopped or starved process (CPU limits).',
      action:
        'Profile the node (node --cpu-prof, or the inspector) and move the blocking work off the loop; check CPU limits and swap.',
      data: { maxSeconds: loopMax, p99Seconds: loop99 },
    })
  }

  const failed = of('tentacle_handshakes_total').filter((s) => s.labels.outcome !== 'ok' && s.value > 0)
  const byPhase = new Map<string, Sample[]>()
  for (const s of failed) {
    const p = s.labels.phase ?? ''
    byPhase.set(p, [...(byPhase.get(p) ?? []), s])
  }
  for (const [phase, ss] of byPhase) {
    const total = ss.reduce((n, s) => n + s.value, 0)
    const parts = ss.map((s) => `${s.labels.direction} ${s.labels.outcome} ×${s.value}`).join(', ')
    out.push({
      id: 'handshake-failures',
      severity: 'warn',
      title: `${total} handshakes failed ${phase === '' ? 'before the handshake' : `in phase ${phase}`} (${parts})`,
      detail: PHASE_MEANING[phase] ?? 'The handshake failed in this phase.',
      action:
        phase === 'awaiting-propose'
          ? 'If they come from your own peers, check that they dial the right port and run tentacle; `tentacle dial` from their host shows where it stops. Silent strangers are harmless but each holds a socket until the deadline.'
          : 'Run `tentacle dial` against the peer to see the phase times, and doctor on both ends for event-loop delay.',
      data: {
        phase,
        byOutcome: Object.fromEntries(ss.map((s) => [`${s.labels.direction}:${s.labels.outcome}`, s.value])),
      },
    })
  }

  const rejected = of('tentacle_connections_rejected_total').filter((s) => s.value > 0)
  if (rejected.length > 0) {
    out.push({
      id: 'connections-rejected',
      severity: 'warn',
      title: `connections closed at once by limits: ${rejected.map((s) => `${s.labels.reason} ×${s.value}`).join(', ')}`,
      detail:
        'The node was at --max-connections (or its concurrent-handshake cap) and closed new connections right after accepting them, as designed, so the kernel queue never fills.',
      action:
        'Raise --max-connections if the host has room (file descriptors, memory), or find out who opens so many connections.',
      data: Object.fromEntries(rejected.map((s) => [s.labels.reason, s.value])),
    })
  }
  return out
}
