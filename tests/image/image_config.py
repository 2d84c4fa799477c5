"""Checks a built image's configuration and size from `buildah inspect --type image` JSON
(on stdin): the platform, USER 65532:65532, ENTRYPOINT ["/ecr-refresh"] and no CMD, the
OCI labels, and a total layer size under the limit. Prints one line per check.

    buildah inspect --type image IMAGE | image_config.py ARCH VERSION COMMIT MAX_BYTES
"""
import json
import sys

LABELS = ("org.opencontainers.image.source", "org.opencontainers.image.version",
          "org.opencontainers.image.revision",
          "org.opencontainers.image.licenses", "org.opencontainers.image.title",
          "org.opencontainers.image.description")


def main():
    arch, version, commit, limit = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    info = json.load(sys.stdin)
    oci = info["OCIv1"]
    config = oci.get("config") or {}
    labels = config.get("Labels") or {}
    manifest = json.loads(info["Manifest"])
    size = sum(layer["size"] for layer in manifest["layers"])
    checks = [
        ("platform is linux/%s" % arch, oci.get("os") == "linux" and oci.get("architecture") == arch),
        ("User is 65532:65532", config.get("User") == "65532:65532"),
        ("Entrypoint is [\"/ecr-refresh\"], no Cmd", config.get("Entrypoint") == ["/ecr-refresh"] and not config.get("Cmd")),
        ("one layer (FROM scratch + the binary)", len(manifest["layers"]) == 1),
        ("labels %s" % ", ".join(l.rsplit(".", 1)[1] for l in LABELS), all(labels.get(l) for l in LABELS)),
        ("version label is %s" % version, labels.get("org.opencontainers.image.version") == version),
        ("revision label is %s" % commit, labels.get("org.opencontainers.image.revision") == commit),
        ("image size %d bytes (%.1f KiB) < %d KiB" % (size, size / 1024.0, limit // 1024), size < limit),
    ]
    failed = 0
    for what, ok in checks:
        print("%s: %s" % ("ok" if ok else "FAIL", what))
        failed += not ok
    if failed:
        print(json.dumps({"config": config, "os": oci.get("os"), "architecture": oci.get("architecture"),
                          "layers": manifest["layers"]}, indent=1))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
