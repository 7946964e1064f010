# Tributary daemon image: `docker compose up` (docker-compose.yml) builds and runs it.
FROM rust:1-bookworm AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends cmake perl make && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cargo build --release --locked --bin tributary

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/tributary /usr/local/bin/tributary
COPY config/ /etc/tributary/
VOLUME /var/lib/tributary
EXPOSE 8083 8081
ENV TRIBUTARY__DATA_DIR=/var/lib/tributary \
    TRIBUTARY__API__LISTEN=0.0.0.0:8083 \
    TRIBUTARY__API__AUTH=none \
    TRIBUTARY__SCHEMA_REGISTRY__LISTEN=0.0.0.0:8081
ENTRYPOINT ["tributary"]
CMD ["serve", "--config", "/etc/tributary/tributary.toml"]
