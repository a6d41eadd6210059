/** @tentacle-ts/cli — placeholder (issue 8). */
export {}
