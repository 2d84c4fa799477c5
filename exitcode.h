/*
 * exitcode: the process exit codes, named once (docs/reference.md "Exit codes").
 *
 * Only main.c exits; k8s_run returns one of these for the Kubernetes phase, and config
 * errors found anywhere before the network become EXIT_CONFIG in main.
 */
#ifndef EXITCODE_H
#define EXITCODE_H

enum exit_code {
	EXIT_OK = 0,           /* every target namespace holds the Secret (or --output printed) */
	EXIT_PARTIAL = 1,      /* some namespaces failed, the others were written */
	EXIT_CONFIG = 2,       /* configuration: options, environment, files; nothing contacted */
	EXIT_CREDENTIALS = 3,  /* no cloud credentials, or no registry token */
	EXIT_KUBERNETES = 4,   /* API server unreachable, untrusted or refusing us before any write */
};

#endif
