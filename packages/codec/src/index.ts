/** @tentacle-ts/codec — placeholder until the molecule codec moves here (issue 7). */
export {}
