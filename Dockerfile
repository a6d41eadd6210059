# The tentacle-ts node image: `tentacle` (packages/cli) as the entrypoint.
#
# BASE_IMAGE defaults to the official Node image, so `docker compose up` works with a stock
# Docker install. The test net's own engine (test/testnet/docker-engine.sh, no registry
# reachable) passes a local debootstrap image that carries the host's node binary.
#
# The build context is the repository after `npm ci` on the host: its node_modules are
# copied when present (no network needed at build time); without them the build runs
# `npm ci` itself. Either way the TypeScript is compiled here and the node runs plain JS.
ARG BASE_IMAGE=node:20-bookworm-slim
FROM ${BASE_IMAGE}

WORKDIR /app
COPY . .
RUN set -eu; \
    if [ ! -d node_modules/typescript ]; then npm ci --no-audit --no-fund; fi; \
    node node_modules/typescript/bin/tsc -b packages/cli; \
    ln -sf /app/packages/cli/bin/tentacle.js /usr/local/bin/tentacle; \
    chmod +x packages/cli/bin/tentacle.js

ENV NODE_ENV=production
# 8115: the p2p port (CKB's default); 9100: metrics and /status over HTTP.
EXPOSE 8115 9100
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/app/packages/cli/bin/tentacle.js"]
CMD ["--help"]
