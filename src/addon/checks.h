/* Argument checks: one argument against one parameter of a kernel's
 * signature, as both submission paths need them (convert.c for a call
 * from JS, ring.c for a cell a worker copied out of the ring). Plain C, no
 * Node: the values come in as numbers, pointers and lengths. */
#ifndef PENNY_ADDON_CHECKS_H
#define PENNY_ADDON_CHECKS_H

#include "penny.h"
#include "signature.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An argument error found on a worker, or a plugin kernel's failure
 * message, with its NUL. */
#define MSG_MAX 256

/* A kernel as one pool's table holds it. Entries never move once
 * published: workers keep pointers to them. */
typedef struct {
  penny__sig_t sig;
  const penny_kernel_t *kernel;
} entry_t;

/* The JS class of each element type, by PENNY_I8..PENNY_F64 ("typed
 * array" at 0, for a `num[]` parameter). */
extern const char *const penny__array_names[PENNY_F64 + 1];

/* Each check below returns 0, or PENNY_EINVAL (the wrong kind of
 * argument: a TypeError) or PENNY_ERANGE (a bad size or value: a
 * RangeError) with the reason in `msg` (MSG_MAX bytes). */

/* Formats `msg` and returns `code`. */
int penny__arg_error(char *msg, int code, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

/* Checks the number `d` against scalar parameter i of e and fills
 * args[i]. */
int penny__check_scalar(const entry_t *e, unsigned i, double d,
                        penny_arg_t *args, char *msg);

/* Checks an array of `length` elements of `type` (0: one kernels cannot
 * take) at `data` against array parameter i of e and fills args[i]. Sets
 * *in_arena when the elements lie in [arena, arena + arena_bytes). */
int penny__check_array(const uint8_t *arena, size_t arena_bytes,
                       const entry_t *e, unsigned i, int type, void *data,
                       size_t length, penny_arg_t *args, char *msg,
                       bool *in_arena);

/* The kernel's own pre-flight check, once every argument is converted. */
int penny__check_kernel(const entry_t *e, const penny_arg_t *args,
                        char *msg);

#endif /* PENNY_ADDON_CHECKS_H */
