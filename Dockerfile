# The tentacle-ts node image: `tentacle` (packages/cli) as the entrypoint.
#
# BASE_IMAGE defaults to the official Node image, so `docker compose up` works with a stock
# Docker install. The test net's own engine (test/testnet/docker-engine.sh, no registry
# reachable) passes a local debootstrap image that carries the host's node binary.
#
# The build context is the repository after `npm ci` on the host: its node_modules are
# used when their native parts run here (a Linux x64 host; no network needed at build
# time); otherwise the build runs `npm ci` itself. The `tentacle` bin runs the TypeScript sources through tsx
# (see packages/cli/bin/tentacle.js), so no compile step can fail the image.
ARG BASE_IMAGE=node:20-bookworm-slim
FROM ${BASE_IMAGE}

WORKDIR /app
COPY . .
RUN set -eu; \
    if ! node -e "require('esbuild').transformSync('')" 2>/dev/null; then rm -rf node_modules; npm ci --no-audit --no-fund; fi; \
    node packages/cli/bin/tentacle.js --help >/dev/null; \
    chmod +x packages/cli/bin/tentacle.js; \
    ln -sf /app/packages/cli/bin/tentacle.js /usr/local/bin/tentacle

# The Rust node of the net (compose profile ckb) links the system OpenSSL.
RUN if ! ldconfig -p | grep -q 'libssl\.so\.3'; then \
      apt-get update && apt-get install -y --no-install-recommends libssl3 && rm -rf /var/lib/apt/lists/*; \
    fi

ENV NODE_ENV=production
# 8115: the p2p port (CKB's default); 9100: metrics and /status over HTTP.
EXPOSE 8115 9100
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/app/packages/cli/bin/tentacle.js"]
CMD ["--help"]
