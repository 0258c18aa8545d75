/* Kernel signatures: "name(param, ...) -> result", parsed once when a
 * table is registered, so that every call is checked against a compact
 * form. Plain C, no Node. */
#ifndef PENNY_SIGNATURE_H
#define PENNY_SIGNATURE_H

#include "penny.h"

#include <stdint.h>

#define PENNY_NAME_MAX 32 /* bytes, with the terminating NUL */

/* Directions of array parameters. Scalars have none. */
#define PENNY_DIR_IN    1
#define PENNY_DIR_OUT   2
#define PENNY_DIR_INOUT 3

typedef struct {
  char name[PENNY_NAME_MAX];
  uint8_t is_array;
  uint8_t type;   /* PENNY_I8..PENNY_F64; 0 for `num[]`, any element type */
  uint8_t dir;    /* PENNY_DIR_*, 0 for scalars */
} penny__param_t;

typedef struct {
  char name[PENNY_NAME_MAX];
  unsigned nparams;
  penny__param_t params[PENNY_MAX_ARGS];
  int result;     /* PENNY_TYPE_NONE (void) or PENNY_F64 */
} penny__sig_t;

/* 0 on success; PENNY_EINVAL with *err pointing at a static reason. */
int penny__sig_parse(const char *text, penny__sig_t *sig, const char **err);

/* "i8" .. "f64", or "num" for 0. */
const char *penny__type_name(int type);

#endif /* PENNY_SIGNATURE_H */
