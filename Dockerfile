# The servescope image for people who build with Docker or BuildKit. `make
# image` builds the same layout without a daemon (tools/image): a static
# binary, passwd/group for the non-root user 65534, CA certificates.
#   docker build --build-arg VERSION=0.1.0 -t ghcr.io/servescope/servescope:0.1.0 .
ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-bookworm AS build
ARG VERSION=dev
ARG REVISION=""
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION} -X main.revision=${REVISION}" \
      -o /out/servescope ./cmd/servescope \
 && mkdir -p /out/root/etc /out/root/tmp /out/root/data \
 && printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' > /out/root/etc/passwd \
 && printf 'root:x:0:\nnogroup:x:65534:\n' > /out/root/etc/group \
 && printf 'hosts: files dns\n' > /out/root/etc/nsswitch.conf \
 && chmod 1777 /out/root/tmp && chown 65534:65534 /out/root/data

FROM scratch
ARG VERSION=dev
ARG REVISION=""
COPY --from=build /out/root/ /
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/servescope /usr/local/bin/servescope
LABEL org.opencontainers.image.title="servescope" \
      org.opencontainers.image.description="Observability for LLM serving on Kubernetes GPUs" \
      org.opencontainers.image.source="https://github.com/servescope/servescope" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
ENV PATH=/usr/local/bin SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER 65534:65534
WORKDIR /data
EXPOSE 9464
ENTRYPOINT ["/usr/local/bin/servescope"]
CMD ["serve", "--config=/etc/servescope/servescope.yml", "--storage.path=/data", "--web.listen-address=0.0.0.0:9464"]
