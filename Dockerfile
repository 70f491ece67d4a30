# syntax=docker/dockerfile:1

# Build: a static binary (no cgo), cross-compiled for the target platform.
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
ARG TARGETOS TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/scim-bridge ./cmd/scim-bridge
# The embedded store's directory, owned by the runtime user: a volume mounted
# at /data starts with this ownership, so the store can write to it.
RUN mkdir -p /out/data

# Run: distroless, no shell, as nonroot (uid 65532).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/scim-bridge /scim-bridge
COPY --from=build --chown=65532:65532 /out/data /data
USER nonroot
ENV SCIM_BRIDGE_DATA_DIR=/data
VOLUME /data
EXPOSE 8080
ENTRYPOINT ["/scim-bridge"]
CMD ["serve"]
