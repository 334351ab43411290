# syntax=docker/dockerfile:1
# One image for both processes (api, indexer); `runtime-gpu` adds ONNX Runtime's CUDA provider for the indexer.

# ---- build: node modules and compiled TypeScript ----
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY core core
COPY api api
COPY indexer indexer
COPY cli cli
COPY mappings mappings
RUN npm run build && npm prune --omit=dev

# ---- models: the built-in ONNX models, built from pinned sources by the project's own converter ----
FROM python:3.11-slim-bookworm AS models
WORKDIR /app
COPY models models
COPY scripts/lib.sh scripts/build-models.sh scripts/
RUN apt-get update && apt-get install -y --no-install-recommends curl unzip && rm -rf /var/lib/apt/lists/* \
 && LOOKALIKE_CACHE_DIR=/app/.cache bash scripts/build-models.sh

# ---- runtime (CPU) ----
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production LOOKALIKE_CACHE_DIR=/app/.cache
# glibc malloc, as `npm run api` and `npm run indexer` set it (scripts/service-command.ts says why).
ENV MALLOC_MMAP_THRESHOLD_=131072
WORKDIR /app
RUN groupadd --system lookalike && useradd --system --gid lookalike --home-dir /app --shell /usr/sbin/nologin lookalike
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY bin bin
COPY mappings mappings
COPY models models
COPY api/public api/public
COPY --from=models /app/.cache/models .cache/models
USER lookalike
EXPOSE 8080
# --single-threaded-gc: V8's concurrent GC threads compete with ONNX Runtime (and a co-located Elasticsearch) for the
# cores; with the flag the p95 of a search at 100,000 products was 51 ms on 2 cores, without it 57 ms
# (benchmarks/results/search-latency.md). --max-semi-space-size=2: a young generation of 2 MB a half; it held 50 MB
# less under load, at the same latency (docs/scaling.md).
CMD ["node", "--single-threaded-gc", "--max-semi-space-size=2", "dist/api/main.js"]

# ---- runtime with CUDA: CUDA 12 + cuDNN 9 user-space libraries, and onnxruntime-node's CUDA provider ----
FROM build AS build-gpu
RUN ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js

FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04 AS runtime-gpu
ENV NODE_ENV=production LOOKALIKE_CACHE_DIR=/app/.cache ONNX_EXECUTION_PROVIDER=cuda
ENV MALLOC_MMAP_THRESHOLD_=131072
WORKDIR /app
COPY --from=build /usr/local/bin/node /usr/local/bin/node
RUN groupadd --system lookalike && useradd --system --gid lookalike --home-dir /app --shell /usr/sbin/nologin lookalike
COPY --from=build-gpu /app/package.json ./
COPY --from=build-gpu /app/node_modules node_modules
COPY --from=build-gpu /app/dist dist
COPY bin bin
COPY mappings mappings
COPY models models
COPY api/public api/public
COPY --from=models /app/.cache/models .cache/models
USER lookalike
CMD ["node", "dist/indexer/main.js"]
