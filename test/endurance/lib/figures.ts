/**
 * Output and argument helpers shared by the endurance programs: one JSON line
 * per figure, `{bench, value, unit, target, ok}`, as the issue asks.
 */

export interface Figure {
  /** Dotted name, e.g. "soak.heap_growth". */
  bench: string
  value: number
  unit: string
  /** The target the figure is held to (null: reported, not judged). */
  target: number | string | null
  /** Whether the figure meets its target (true when it has none). */
  ok: boolean
}

/** Prints one figure as one JSON line on stdout. */
export function figure(f: Figure): void {
  console.log(
    JSON.stringify({
      bench: f.bench,
      value: Math.round(f.value * 100) / 100,
      unit: f.unit,
      target: f.target,
      ok: f.ok,
    }),
  )
}

export function flag(args: readonly string[], name: string): boolean {
  return args.includes(name)
}

/** The value after `name` (`--x 5`) or in `name=value` form. */
export function option(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name)
  if (i >= 0) return args[i + 1]
  const eq = args.find((a) => a.startsWith(`${name}=`))
  return eq?.slice(name.length + 1)
}
