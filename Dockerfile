# syntax=docker/dockerfile:1
# bidgate's container image: `docker build -t bidgate .` from the repository root.
# Stage 1 builds the release binary with the toolchain the project pins in Cargo.toml
# (rust-version) or newer; stage 2 is distroless (glibc, CA certificates, no shell) and runs
# as the unprivileged user 65532. The binary needs nothing else at run time: TLS is rustls
# with its own roots, mimalloc is linked in.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# The caches keep crates.io downloads and build output between builds of this Dockerfile.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin bidgate \
 && install -D -m 0755 target/release/bidgate /out/bidgate \
 && mkdir -p /out/events

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/bidgate /usr/local/bin/bidgate
# The event log's directory (event_log.dir in deploy/), writable by the user below: distroless
# has no shell to create it at run time. The config is mounted at /etc/bidgate.
COPY --from=build --chown=65532:65532 /out/events /var/lib/bidgate/events
WORKDIR /var/lib/bidgate
USER 65532:65532
# 8080: clients and probes; 9901: the admin API and /metrics when admin.listen is set.
EXPOSE 8080 9901
ENTRYPOINT ["/usr/local/bin/bidgate"]
CMD ["serve", "--config", "/etc/bidgate/bidgate.toml"]
