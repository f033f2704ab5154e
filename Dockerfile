# syntax=docker/dockerfile:1
# The one mandi image: mandi-server, every service behind --target (k8s/ runs one target
# per Deployment). Build: docker build -t registry.mandi.example/mandi-server:0.1.0 .

# --- web: the storefront the gateway serves (web/ on the TypeScript SDK's sources) ---
FROM node:22-bookworm-slim AS web
WORKDIR /src
COPY sdk/ts/src sdk/ts/src
COPY web/package.json web/package-lock.json web/
RUN cd web && npm ci --no-audit --no-fund
COPY web web
RUN cd web && npm run build

# --- build: the release binary, with the workspace's locked dependencies ---
FROM rust:1.95-slim-bookworm AS build
# rdkafka builds its bundled librdkafka (make, a C compiler, zlib); protos compile in pure
# Rust (protox), so no protoc.
RUN apt-get update \
 && apt-get install -y --no-install-recommends make pkg-config zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p mandi-server \
 && install -m 0755 target/release/mandi-server /usr/local/bin/mandi-server

# --- run: glibc and CA certificates only, no shell, no package manager ---
# distroless/cc is Debian 12, the same glibc as the bookworm build stage.
FROM gcr.io/distroless/cc-debian12:nonroot AS run
COPY --from=build /usr/local/bin/mandi-server /usr/local/bin/mandi-server
# MANDI_GATEWAY__WEB_ROOT in k8s/ points here.
COPY --from=web /src/web/dist /srv/web
# The distroless "nonroot" user; the pods run as it too (runAsUser 65532), read-only root.
USER 65532:65532
# gRPC and grpc-web; admin HTTP (metrics, JWKS); the gateway's public port. In a
# container bind every interface.
ENV MANDI_LISTEN=0.0.0.0:50051 \
    MANDI_ADMIN_LISTEN=0.0.0.0:9090 \
    MANDI_GATEWAY__LISTEN=0.0.0.0:8080 \
    MANDI_GATEWAY__WEB_ROOT=/srv/web \
    MANDI_LOG__FORMAT=json
EXPOSE 50051 9090 8080
ENTRYPOINT ["/usr/local/bin/mandi-server"]
CMD ["--target=all"]
