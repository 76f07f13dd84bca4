# syntax=docker/dockerfile:1
# The sfconnect image: one static binary (every connector, the simulator
# and the dev stack) plus its health check, on distroless, as a non-root
# user. Base images are pinned: the builder by exact Go release, the
# runtime by digest (the tag beside it says what the digest is).

FROM golang:1.26.8-bookworm AS build
WORKDIR /src
# Modules first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# CGO_ENABLED=0: a static binary, which distroless/static (no libc) needs.
RUN CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/sfconnect ./cmd/sfconnect \
 && CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -trimpath -ldflags "-s -w" \
      -o /out/sfconnect-healthcheck ./deploy/healthcheck

FROM gcr.io/distroless/static-debian12:nonroot@sha256:d093aa3e30dbadd3efe1310db061a14da60299baff8450a17fe0ccc514a16639
COPY --from=build /out/sfconnect /usr/local/bin/sfconnect
COPY --from=build /out/sfconnect-healthcheck /usr/local/bin/sfconnect-healthcheck
# Numeric, so that Kubernetes can verify runAsNonRoot (65532 is distroless's
# nonroot user).
USER 65532:65532
# The operations server (/metrics, /healthz, /readyz; SFCONNECT_OPS_ADDR),
# and the HTTP ingest source's endpoint (`source http`; SFCONNECT_HTTP_ADDR).
EXPOSE 9090 8443
ENTRYPOINT ["/usr/local/bin/sfconnect"]
CMD ["help"]
