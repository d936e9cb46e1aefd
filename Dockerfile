# Pforte container image: one static binary on "scratch".
#
# Build everything in a Go container:
#   docker build -t pforte .
# Or ship the static binary built on the host (no base image is pulled,
# which is how CI builds it): "make image", which lays out .image/rootfs
# and runs
#   podman build --format docker --build-arg BINARY=host -t pforte .
#
# Run (the data volume must persist: it holds the database and the ACME
# account and certificates):
#   docker run -d --name pforte -p 80:80 -p 443:443 -p 127.0.0.1:8081:8081 \
#     -v pforte-data:/data --env-file pforte.env pforte
# Ports: 80 (ACME HTTP-01, redirect), 443 (HTTPS: webhooks, panel),
# 8081 (internal API and metrics: publish it on loopback or a private
# network only).

ARG GO_VERSION=1.26
# "build" compiles in the golang image; "host" takes .image/rootfs from the
# context. Either lays out base/ (usr/local/bin/pforte, and tmp/ with mode
# 1777) and volume/data (mode 700). COPY gives a copied directory itself
# mode 755, so each tree is copied by its parent to keep the modes.
ARG BINARY=build

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN make build && ./pforte version \
 && mkdir -p /rootfs/base/usr/local/bin /rootfs/volume && mkdir -m 1777 /rootfs/base/tmp \
 && mkdir -m 700 /rootfs/volume/data && cp pforte /rootfs/base/usr/local/bin/pforte

FROM scratch AS host
COPY .image/rootfs/ /rootfs/

FROM ${BINARY} AS binary

FROM scratch
ARG VERSION=dev
LABEL org.opencontainers.image.title="pforte" \
      org.opencontainers.image.description="Self-hosted WhatsApp Business Cloud API gateway" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/pforte/pforte"
# /tmp is there for anything that asks for os.TempDir (scratch has none);
# Pforte itself spools uploads under the data directory.
COPY --from=binary /rootfs/base/ /
# Not root; only the volume directory belongs to this user, the binary
# stays root's.
COPY --from=binary --chown=65532:65532 /rootfs/volume/ /
USER 65532:65532
WORKDIR /data
ENV PFORTE_DATA_DIR=/data \
    PFORTE_INTERNAL_ADDR=:8081
VOLUME ["/data"]
EXPOSE 80 443 8081
# Ports below 1024 as non-root: Docker sets
# net.ipv4.ip_unprivileged_port_start=0 in the container by default; with
# other runtimes pass --sysctl net.ipv4.ip_unprivileged_port_start=0.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/pforte", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/pforte"]
CMD ["serve"]
