/** @tentacle-ts/protocols — placeholder (issue 7). */
export {}
