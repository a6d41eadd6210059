/**
 * @tentacle-ts/cli — the `tentacle` command (keygen, node, dial, doctor,
 * testnet). Programs use `main(argv)`; the pieces a script may reuse are the
 * doctor's diagnosis and the dial probe.
 */
export { main } from './main.js'
export { CLI_ERROR_CODES, CliError, UsageError, isCliError, type CliErrorCode } from './errors.js'
export { probe, type ProbeOptions, type ProbeResult, type PhaseTiming } from './dial/probe.js'
export { diagnose, type DoctorOptions, type DoctorReport, type Finding, type Severity } from './doctor/diagnose.js'
