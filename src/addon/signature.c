/* Parser for kernel signatures (grammar in include/penny.h). Signatures
 * come from C tables, the built-in one and later plugins', so the parser
 * is strict and says what it did not accept. */
#include "signature.h"

#include <string.h>

static const char *const type_names[] = {
  "num",
#define PENNY_TYPE_NAME_(name, value, str, ctype) str,
  PENNY_TYPE_MAP(PENNY_TYPE_NAME_)
#undef PENNY_TYPE_NAME_
};

const char *penny__type_name(int type) {
  if (type < 0 || type > PENNY_F64)
    return "?";
  return type_names[type];
}

static void skip_space(const char **p) {
  while (**p == ' ' || **p == '\t')
    (*p)++;
}

static int is_ident_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_ident(char c) {
  return is_ident_start(c) || (c >= '0' && c <= '9');
}

/* Reads an identifier into buf (size PENNY_NAME_MAX). */
static int read_ident(const char **p, char *buf) {
  size_t n = 0;
  skip_space(p);
  if (!is_ident_start(**p))
    return -1;
  while (is_ident(**p)) {
    if (n + 1 >= PENNY_NAME_MAX)
      return -1;
    buf[n++] = *(*p)++;
  }
  buf[n] = '\0';
  return 0;
}

/* 0 for "num", PENNY_* for a type name, -1 otherwise. */
static int lookup_type(const char *word) {
  for (int t = 0; t <= PENNY_F64; t++)
    if (strcmp(word, type_names[t]) == 0)
      return t;
  return -1;
}

static int fail(const char **err, const char *why) {
  *err = why;
  return PENNY_EINVAL;
}

static int parse_param(const char **p, penny__param_t *param,
                       const char **err) {
  char word[PENNY_NAME_MAX];
  memset(param, 0, sizeof(*param));
  if (read_ident(p, word) != 0)
    return fail(err, "expected a parameter");
  if (strcmp(word, "in") == 0)
    param->dir = PENNY_DIR_IN;
  else if (strcmp(word, "out") == 0)
    param->dir = PENNY_DIR_OUT;
  else if (strcmp(word, "inout") == 0)
    param->dir = PENNY_DIR_INOUT;
  if (param->dir != 0 && read_ident(p, word) != 0)
    return fail(err, "expected an element type after the direction");
  int type = lookup_type(word);
  if (type < 0)
    return fail(err, "unknown type");
  if (**p == '[') {
    if ((*p)[1] != ']')
      return fail(err, "expected '[]'");
    *p += 2;
    param->is_array = 1;
  }
  if (param->is_array && param->dir == 0)
    return fail(err, "an array parameter needs in, out or inout");
  if (!param->is_array && param->dir != 0)
    return fail(err, "only array parameters take a direction");
  if (!param->is_array && (type == 0 || type == PENNY_I64 ||
                           type == PENNY_U64))
    return fail(err, "scalar parameters are i8..u32, f32 or f64");
  param->type = (uint8_t) type;
  if (read_ident(p, param->name) != 0)
    return fail(err, "expected a parameter name");
  return 0;
}

int penny__sig_parse(const char *text, penny__sig_t *sig,
                     const char **err) {
  const char *p = text;
  char word[PENNY_NAME_MAX];
  memset(sig, 0, sizeof(*sig));
  if (text == NULL)
    return fail(err, "no signature");
  if (read_ident(&p, sig->name) != 0)
    return fail(err, "expected a kernel name of at most 31 characters");
  skip_space(&p);
  if (*p++ != '(')
    return fail(err, "expected '(' after the name");
  skip_space(&p);
  if (*p == ')') {
    p++;
  } else {
    for (;;) {
      if (sig->nparams == PENNY_MAX_ARGS)
        return fail(err, "too many parameters");
      penny__param_t *param = &sig->params[sig->nparams];
      int rc = parse_param(&p, param, err);
      if (rc != 0)
        return rc;
      for (unsigned i = 0; i < sig->nparams; i++)
        if (strcmp(sig->params[i].name, param->name) == 0)
          return fail(err, "two parameters have the same name");
      sig->nparams++;
      skip_space(&p);
      if (*p == ',') {
        p++;
        continue;
      }
      if (*p++ != ')')
        return fail(err, "expected ',' or ')'");
      break;
    }
  }
  skip_space(&p);
  if (p[0] != '-' || p[1] != '>')
    return fail(err, "expected '->' and a result type");
  p += 2;
  if (read_ident(&p, word) != 0)
    return fail(err, "expected a result type");
  if (strcmp(word, "void") == 0)
    sig->result = PENNY_TYPE_NONE;
  else if (strcmp(word, "f64") == 0)
    sig->result = PENNY_F64;
  else
    return fail(err, "the result is void or f64");
  skip_space(&p);
  if (*p != '\0')
    return fail(err, "unexpected text after the result type");
  return 0;
}
