/*
 * credmatch: which key of a .dockerconfigjson the kubelet would use for an image, so that
 * `ecr-refresh check` can say "the Secret has no entry for this image's registry" with the
 * kubelet's own rules (docs/design.md "How the kubelet reads the Secret").
 *
 * The rules are those of kubernetes/kubernetes pkg/credentialprovider/keyring.go
 * (BasicDockerKeyring.Add and Lookup, URLsMatch, parseSchemelessURL, splitURL,
 * isDefaultRegistryMatch), written again here in C:
 *   - a key gets "https://" when it has no http(s) scheme, is parsed as a URL, and a path
 *     starting with "/v1/" or "/v2/" loses those three characters ("https://host/v1/" and
 *     "host" are one key);
 *   - the image, normalised as the kubelet's image parse does (docker.io/library/ added),
 *     matches a key when the port is equal, the host has as many dot-separated labels and
 *     each label matches the key's label as a glob (`*`, `?`, `[...]`), and the key's path
 *     is a string prefix of the image's path;
 *   - keys are tried longest-first (reverse string order), so "quay.io/team" beats "quay.io";
 *   - when nothing matched and the image is on Docker Hub, a key naming index.docker.io
 *     (as "https://index.docker.io/v1/" does) is used.
 *
 * Pure: no I/O, no allocation; results are copied into fixed fields, inputs are hostile.
 */
#ifndef CREDMATCH_H
#define CREDMATCH_H

#include <stddef.h>

/* distribution/reference NameTotalLengthMax: a repository name is at most 255 bytes. */
#define CREDMATCH_MAX_NAME 255

struct credmatch_image {
	char repo[CREDMATCH_MAX_NAME + 1];   /* "docker.io/library/nginx": what the kubelet looks up */
	char host[CREDMATCH_MAX_NAME + 1];   /* "docker.io", "registry:5000": the registry pulled from */
};

/*
 * Parses an image reference as a pod spec holds it (NAME[:TAG][@DIGEST]) the way the
 * kubelet does before its credential lookup (distribution/reference ParseNormalizedNamed):
 * a first component with no '.' or ':' that is not "localhost" and has no upper case is a
 * Docker Hub path; "index.docker.io" becomes "docker.io"; a one-component Docker Hub name
 * gets "library/". Path components must be lower case [a-z0-9] joined by '.', '_', "__" or
 * runs of '-'. Returns 0, or -1 when the reference is not valid (out is then empty).
 */
int credmatch_parse_image(const char *image, struct credmatch_image *out);

/* 1 when the kubelet would use dockerconfig key for the normalised repo (as
 * credmatch_parse_image makes it), by the URL rules above; 0 otherwise, including keys it
 * cannot parse. The Docker Hub fallback is credmatch_lookup's business. */
int credmatch_key_matches(const char *key, const char *repo);

/* 1 when repo (normalised or not) would be pulled from Docker Hub: no '/' at all, a first
 * component "docker.io" or "index.docker.io", or one without '.' and ':'. */
int credmatch_is_docker_hub(const char *repo);

/* The key the kubelet would use first for repo among keys[0..count): the longest-sorting
 * matching key, else a Docker Hub key for a Docker Hub image. Returns its index, or -1. */
long credmatch_lookup(const char *const *keys, size_t count, const char *repo);

#endif
