# Parley in a container: the server (main.ts) with its web bundle built in.
#
#   docker build -t parley .
#   docker run -p 8000:8000 -v parley-data:/data parley
#
# The KV file lives at /data/parley.kv on a volume. Set KV_URL (and
# DENO_KV_ACCESS_TOKEN) to use a KV Connect database instead; compose.yaml runs
# three replicas behind a proxy. See "Containers" in README.md.

# --- build: dependencies and the web bundle -------------------------------------
FROM denoland/deno:2.9.6 AS build

WORKDIR /app

# Dependencies first, so this layer is reused until deno.json or deno.lock change.
# --frozen fails the build rather than resolve anything the lock file does not name.
COPY deno.json deno.lock ./
RUN deno install --frozen

COPY . .
# The bundle (static/app.js) is built here, never at run time: the server writes
# nothing but its KV file. Its first `deno bundle` fetches esbuild from npm.
# `deno cache` fetches and compiles main.ts's whole module graph now, so the
# server starts without the network.
RUN deno task build \
  && deno cache --frozen main.ts

# --- run ---------------------------------------------------------------------
FROM denoland/deno:2.9.6

WORKDIR /app

# The module cache belongs to the user that runs the server (Deno may add to its
# compile cache); the application stays owned by root, so it cannot be changed.
COPY --from=build --chown=deno:deno /deno-dir /deno-dir
COPY --from=build /app /app

# The KV file's folder, owned by the server's user. A named volume mounted here
# starts as a copy of this folder, ownership included.
RUN mkdir -p /data && chown deno:deno /data
VOLUME /data

ENV KV_PATH=/data/parley.kv \
    PORT=8000 \
    HOST=0.0.0.0 \
    DENO_NO_UPDATE_CHECK=1 \
    DENO_NO_PROMPT=1

# The image's non-root user (uid 1993).
USER deno

EXPOSE 8000

# There is no curl in the image: Deno itself asks /api/health (200 when the
# server and its KV answer; 503 while it shuts down). --no-config keeps the check
# from loading deno.json and the npm packages.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["deno", "eval", "--no-config", "const r = await fetch(`http://127.0.0.1:${Deno.env.get('PORT') ?? '8000'}/api/health`, { signal: AbortSignal.timeout(4000) }).catch((e) => e); if (!(r instanceof Response) || !r.ok) { console.error(r instanceof Response ? `status ${r.status}` : String(r)); Deno.exit(1); }"]

# The permissions of `deno task start`, without its build step (done above).
# --cached-only: everything was fetched at build time; nothing is downloaded now.
# The image's entrypoint (tini) passes SIGTERM on: Parley then ends its streams
# cleanly, drops its presence leases and exits.
CMD ["deno", "run", "--cached-only", "--allow-net", "--allow-env", "--allow-read", "--allow-write", "main.ts"]
