/*
 * budget: one ceiling on the bytes a run holds for a kind of memory (the Kubernetes
 * answers), shared by every thread. A counted semaphore of bytes: nothing is allocated
 * here, callers take bytes before they allocate and give them back after they free.
 *
 * Deadlock-free use: a caller that waits (budget_take) MUST hold nothing of the budget but
 * its own base (budget_reserve), so whoever holds more is never waiting and will give it
 * back. Anything larger than the limit minus every base can never fit and fails at once.
 */
#ifndef BUDGET_H
#define BUDGET_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct budget {
	pthread_mutex_t lock;
	pthread_cond_t returned;
	size_t limit;       /* bytes in all */
	size_t reserved;    /* bases, held for the whole run */
	size_t taken;       /* bytes held above the bases */
};

/* Returns 0, or -1 when the lock cannot be created. */
int budget_init(struct budget *b, size_t limit);
void budget_destroy(struct budget *b);

/* A base held until budget_unreserve (no waiting): 0, or -1 when it does not fit now. */
int budget_reserve(struct budget *b, size_t bytes);
void budget_unreserve(struct budget *b, size_t bytes);

/* Takes bytes above the caller's base, waiting until deadline_ms (net_now_ms() based) for
 * others to give theirs back. Returns 0, -1 when bytes can never fit (more than the limit
 * minus the bases), or -2 when the deadline passed first. */
int budget_take(struct budget *b, size_t bytes, int64_t deadline_ms);
void budget_give(struct budget *b, size_t bytes);

/*
 * Puts every cJSON allocation of the process under one ceiling of live bytes (installs
 * cJSON hooks; call once, before any cJSON use). A hostile answer of small values
 * ("[0,0,0,...") costs cJSON some 40 bytes of tree per byte of text; past the ceiling a
 * parse fails like a malformed one. Memory cJSON hands out (cJSON_Print*) must then be
 * released with cJSON_free.
 */
void budget_json_install(size_t limit);

/* The most live cJSON bytes seen so far (0 without budget_json_install). */
size_t budget_json_peak(void);

#endif
