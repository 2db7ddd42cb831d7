# sharebox in a container: `docker-compose up -d` (docker-compose.yml adds RabbitMQ), or
#   docker build -t sharebox . && docker run -p 8000:8000 -v sharebox-data:/data sharebox
# The admin API key is printed once in the container's log at the first start.

# --- builder: the same packages as a developer machine, from scripts/bootstrap ----------------
FROM debian:12 AS builder
# Only the bootstrap script first, so the package layer is reused while the sources change.
COPY scripts/bootstrap /src/scripts/bootstrap
RUN /src/scripts/bootstrap && rm -rf /var/lib/apt/lists/*
COPY . /src
# Tests off: the image needs only the binary (CI runs the tests outside the image).
RUN cmake -S /src -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSHAREBOX_TESTS=OFF \
 && cmake --build /build \
 && cmake --install /build --prefix /install --strip

# --- runtime: the shared libraries the binary links, nothing else -----------------------------
FROM debian:12-slim
# One package per library `ldd build/sharebox` names (tests/ops/runtime_libs.py checks this list
# against the real binary). libc6, libgcc-s1 and libstdc++6 come with debian:12-slim.
# libvips42 brings its loaders (HEIC/HEIF through libheif1) as hard dependencies.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libglib2.0-0 \
      librabbitmq4 \
      libspdlog1.10 \
      libfmt9 \
      libsqlite3-0 \
      libssl3 \
      libvips42 \
 && rm -rf /var/lib/apt/lists/*
# A fixed uid, so a bind-mounted data directory can be chowned to it from the host.
RUN useradd --system --uid 10001 --user-group --create-home sharebox \
 && mkdir /data && chown sharebox:sharebox /data
COPY --from=builder /install/ /usr/local/
# The same settings as environment too, so `docker-compose exec sharebox sharebox user add bob`
# works on /data without flags.
ENV SHAREBOX_LISTEN=0.0.0.0:8000 SHAREBOX_DATA_DIR=/data
USER sharebox
WORKDIR /data
VOLUME /data
EXPOSE 8000
# bash's /dev/tcp: a plain HTTP GET /health without installing curl (and its ~20 libraries).
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD bash -c 'exec 3<>/dev/tcp/127.0.0.1/8000 && printf "GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n" >&3 && head -n 1 <&3 | grep -q " 200 "'
# Exec form: sharebox is PID 1 and gets `docker stop`'s SIGTERM (a graceful drain).
ENTRYPOINT ["sharebox"]
CMD ["serve", "--listen", "0.0.0.0:8000", "--data-dir", "/data"]
