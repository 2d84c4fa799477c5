/*
 * dockerconfig: the static registries of mounted .dockerconfigjson / config.json files
 * (a Docker Hub PAT Secret made with `kubectl create secret docker-registry`, any private
 * registry), read into the same entries the token sources produce (docs/design.md "How the
 * kubelet reads the Secret"; docs/reference.md "Other registries in the same Secret").
 *
 * The reader is pure (dockerconfig_parse: bytes in, entries out, no I/O) so a fuzzer can
 * link it alone; dockerconfig_read_file adds the bounded file read. Every failure is a
 * configuration error: one line naming the file (and the key), never a password.
 */
#ifndef DOCKERCONFIG_H
#define DOCKERCONFIG_H

#include <stddef.h>

#include "secret.h"

#define DOCKERCONFIG_MAX_FILE (1024 * 1024)  /* a Secret holds at most 1 MiB */
#define DOCKERCONFIG_MAX_KEY  512
#define DOCKERCONFIG_MAX_ENTRIES 256

/*
 * Appends the "auths" of one file's text[0..len) to out, keys as written, with source =
 * name (borrowed: it must outlive out). As the kubelet reads them
 * (pkg/credentialprovider/config.go): a present "auth" (base64 of user:password, padded or
 * not, split at the first ':') wins over "username"/"password"; when it is missing it is
 * made from them. An entry with neither (a credential helper's placeholder) or with
 * control characters is refused, as are a missing "auths" object, keys that are empty, not
 * printable ASCII or longer than DOCKERCONFIG_MAX_KEY, and more than
 * DOCKERCONFIG_MAX_ENTRIES entries. Returns 0, or -1 with err (entries added before the
 * failure stay in out; the caller frees the whole list).
 */
int dockerconfig_parse(const char *text, size_t len, const char *name, struct secret_entries *out,
                       char *err, size_t errlen);

/* Reads path (a regular file of at most DOCKERCONFIG_MAX_FILE bytes) and parses it with
 * name = path. Returns 0 or -1 with err naming the file. */
int dockerconfig_read_file(const char *path, struct secret_entries *out, char *err, size_t errlen);

/*
 * The registry host of a dockerconfig key, as the kubelet matches it
 * (pkg/credentialprovider/keyring.go): scheme, path and port dropped, lower case, so
 * "https://index.docker.io/v1/" gives "index.docker.io". Returns 0, or -1 when out is too
 * small or no host remains.
 */
int dockerconfig_key_host(const char *key, char *out, size_t outlen);

/*
 * The key's identity for the kubelet: host (lower case) and port, then the path with a
 * trailing "/v1/" or "/v2/" (or "/") dropped, so "registry.example", "https://registry.example/"
 * and "https://registry.example/v2/" are one. Returns 0, or -1 when out is too small.
 */
int dockerconfig_key_identity(const char *key, char *out, size_t outlen);

/*
 * Checks the static entries of every file against each other and against the hosts the
 * token sources produce (hosts[0..count): ECR, ECR Public, Google): two static keys the
 * kubelet would take for one (dockerconfig_key_identity), or a static key whose host is
 * one of hosts, are a configuration error. Returns 0, or -1 with err naming both sides.
 */
int dockerconfig_check(const struct secret_entries *statics, const char *const *hosts, size_t count,
                       char *err, size_t errlen);

#endif
