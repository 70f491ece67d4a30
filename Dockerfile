# syntax=docker/dockerfile:1

# Build: a static binary (no cgo), cross-compiled for the target platform.
# The build context holds no .git (.dockerignore), so what the go command
# would read from the repository comes in as build arguments:
#   docker build --build-arg VERSION=$(git describe --tags --always) \
#     --build-arg COMMIT=$(git rev-parse HEAD) \
#     --build-arg DATE=$(git log -1 --format=%cI) -t scim-bridge .
# `scim-bridge version`, the serve start log line and scim_bridge_build_info
# show them.
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=
ARG DATE=
ARG TARGETOS TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT} -X main.date=${DATE}" \
      -o /out/scim-bridge ./cmd/scim-bridge
# The embedded store's directory, owned by the runtime user: a volume mounted
# at /data starts with this ownership, so the store can write to it.
RUN mkdir -p /out/data

# Run: distroless, no shell, as nonroot (uid 65532).
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG COMMIT=
LABEL org.opencontainers.image.title="scim-bridge" \
      org.opencontainers.image.description="SCIM 2.0 bridge from Okta and Entra ID to UiPath" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}" \
      org.opencontainers.image.source="https://github.com/scim-bridge/scim-bridge" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/scim-bridge /scim-bridge
COPY --from=build --chown=65532:65532 /out/data /data
USER nonroot
ENV SCIM_BRIDGE_DATA_DIR=/data
VOLUME /data
# 8080: the SCIM listener (SCIM_BRIDGE_LISTEN): /scim/v2, /healthz, /readyz.
# 8081: the admin listener (SCIM_BRIDGE_ADMIN_LISTEN): /metrics, the probes
# and the admin API. It listens on 127.0.0.1 by default, which nothing
# outside the container reaches; to scrape /metrics set
# SCIM_BRIDGE_ADMIN_LISTEN=:8081 together with SCIM_BRIDGE_ADMIN_TOKENS.
EXPOSE 8080 8081
# Distroless has no shell or curl: the binary checks itself (GET /healthz on
# its own SCIM listener; exit 0 healthy, 1 not).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/scim-bridge", "healthcheck"]
ENTRYPOINT ["/scim-bridge"]
CMD ["serve"]
