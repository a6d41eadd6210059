#!/usr/bin/env node
console.error("tentacle: not built yet")
process.exit(1)
