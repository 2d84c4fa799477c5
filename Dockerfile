# ecr-refresh image: one static binary in an empty image.
#
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg VERSION=$(cat VERSION) --build-arg COMMIT=$(git rev-parse --short=12 HEAD) \
#     -t ghcr.io/ecr-refresh/ecr-refresh:$(cat VERSION) .
#   buildah bud --platform linux/arm64 --build-arg BUILDPLATFORM=linux/amd64 --build-arg VERSION=... .
# (buildah 1.28, Debian 12's, does not set BUILDPLATFORM itself; tests/image/run.sh passes it.)
#
# The build stage runs on the builder's own platform and cross-compiles for the target
# (make ARCH=...; no emulation). It builds exactly as `make` does on a Debian 12 machine:
# BearSSL and cJSON come from `apt-get source` with deb-src lines derived from this image's
# own apt sources (scripts/fetch-deps.sh), the public CA roots are embedded from its
# ca-certificates. .git is not copied in (.dockerignore), so the commit is a build-arg; the
# version is the VERSION file unless VERSION is given, and both become OCI labels.
FROM --platform=$BUILDPLATFORM debian:bookworm AS build
ARG TARGETARCH
ARG VERSION=
ARG COMMIT=unknown
# gcc/libc6-dev/make: host tools (mkanchors); musl-tools: the native static build;
# dpkg-dev: apt-get source and dpkg-architecture; gcc-TRIPLET: only when cross-building.
RUN set -eu; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get update -q; \
	apt-get install -y -q --no-install-recommends make gcc libc6-dev musl-tools dpkg-dev ca-certificates; \
	host=$(dpkg --print-architecture); target=${TARGETARCH:-$host}; \
	if [ "$target" != "$host" ]; then \
		apt-get install -y -q --no-install-recommends "gcc-$(dpkg-architecture -a"$target" -qDEB_HOST_GNU_TYPE 2>/dev/null)"; \
	fi; \
	rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN set -eu; \
	host=$(dpkg --print-architecture); target=${TARGETARCH:-$host}; \
	b=build; if [ "$target" != "$host" ]; then b=build/$target; fi; \
	make -j"$(nproc)" ARCH="$target" B="$b" VERSION="${VERSION:-$(cat VERSION)}" COMMIT="$COMMIT"; \
	install -D -m 0755 "$b/ecr-refresh" /out/ecr-refresh

FROM scratch
ARG VERSION=
ARG COMMIT=unknown
LABEL org.opencontainers.image.title="ecr-refresh" \
	org.opencontainers.image.description="Keeps Amazon ECR image-pull Secrets fresh in Kubernetes namespaces: one static binary, run as a CronJob" \
	org.opencontainers.image.source="https://github.com/ecr-refresh/ecr-refresh" \
	org.opencontainers.image.version="$VERSION" \
	org.opencontainers.image.revision="$COMMIT" \
	org.opencontainers.image.licenses="MIT"
COPY --from=build /out/ecr-refresh /ecr-refresh
# The nonroot uid/gid of distroless images; cronjob.yaml runs as the same.
USER 65532:65532
ENTRYPOINT ["/ecr-refresh"]
