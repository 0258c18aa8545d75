/* Arguments from Node-API values: the pool handle, typed arrays and
 * numbers, read through the engine and then checked as checks.c checks a
 * ring cell. Never trust JS: every type, length and index is checked
 * again here, whatever lib/ checked before. */
#include "addon.h"
#include "napi_util.h"

/* Tags the external so that a foreign external is never taken for a pool. */
const napi_type_tag penny__pool_tag = {
  0x70656e6e79706f6fULL, 0x6c2d6578746e6c31ULL
};

/* Loop thread: the pool behind a handle; NULL, with an exception pending,
 * for anything else. */
static pool_t *get_pool(napi_env env, napi_value v) {
  bool ok = false;
  napi_valuetype t;
  PENNY_NAPI_CALL(env, napi_typeof(env, v, &t));
  if (t == napi_function)
    PENNY_NAPI_CALL(env, napi_check_object_type_tag(env, v, &penny__pool_tag,
                                                    &ok));
  if (!ok) {
    penny__throw_code(env, ERR_TYPE, "ERR_PENNY_ARG", "not a pool handle");
    return NULL;
  }
  void *data;
  PENNY_NAPI_CALL(env, napi_unwrap(env, v, &data));
  return data;
}

/* Loop thread: the common start of every entry point that takes a pool
 * handle first: reads `want` arguments into argv (the handle is argv[0])
 * and unwraps the pool. NULL, with an exception pending, when a call does
 * not fit `usage`. */
pool_t *penny__pool_args(napi_env env, napi_callback_info info, size_t want,
                         napi_value *argv, const char *usage) {
  size_t argc = want;
  PENNY_NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < want) {
    penny__throw_code(env, ERR_TYPE, "ERR_PENNY_ARG", "%s", usage);
    return NULL;
  }
  return get_pool(env, argv[0]);
}

/* Loop thread: reads a Uint8Array over a SharedArrayBuffer; false if v is not
 * one. */
bool penny__shared_bytes(napi_env env, napi_value v, uint8_t **data,
                         size_t *length) {
  bool is_ta = false, is_ab = true;
  napi_typedarray_type tt = napi_int8_array;
  size_t byte_offset;
  napi_value buffer;
  void *ptr = NULL;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, v, &tt, length, &ptr, &buffer,
                               &byte_offset) != napi_ok ||
      napi_is_arraybuffer(env, buffer, &is_ab) != napi_ok)
    return false;
  *data = ptr;
  return tt == napi_uint8_array && !is_ab;
}

/* Loop thread: what a value is, for messages. */
static const char *typeof_name(napi_env env, napi_value v) {
  napi_valuetype t;
  bool is_array = false;
  if (napi_typeof(env, v, &t) != napi_ok)
    return "a value";
  if (t == napi_object && napi_is_array(env, v, &is_array) == napi_ok &&
      is_array)
    return "an array";
  switch (t) {
  case napi_undefined: return "undefined";
  case napi_null: return "null";
  case napi_boolean: return "a boolean";
  case napi_number: return "a number";
  case napi_string: return "a string";
  case napi_symbol: return "a symbol";
  case napi_bigint: return "a bigint";
  case napi_function: return "a function";
  default: return "an object";
  }
}

/* Any thread: napi's enum to PENNY_*; 0 for Uint8ClampedArray, which has no C
 * type of its own (its stores clamp) and so is refused. */
static int penny_type_of(napi_typedarray_type t) {
  switch (t) {
  case napi_int8_array: return PENNY_I8;
  case napi_uint8_array: return PENNY_U8;
  case napi_int16_array: return PENNY_I16;
  case napi_uint16_array: return PENNY_U16;
  case napi_int32_array: return PENNY_I32;
  case napi_uint32_array: return PENNY_U32;
  case napi_float32_array: return PENNY_F32;
  case napi_float64_array: return PENNY_F64;
  case napi_bigint64_array: return PENNY_I64;
  case napi_biguint64_array: return PENNY_U64;
  default: return 0;
  }
}

/* Loop thread: throws the error that a check in checks.c described. */
void penny__throw_check(napi_env env, int rc, const char *msg) {
  if (rc == PENNY_EINVAL)
    penny__throw_code(env, ERR_TYPE, "ERR_PENNY_ARG", "%s", msg);
  else
    penny__throw_code(env, ERR_RANGE, "ERR_PENNY_RANGE", "%s", msg);
}

/* Loop thread: fills t->args[i] from a typed array, pinning a view over a
 * foreign SharedArrayBuffer, or throws and returns false. */
bool penny__convert_array(napi_env env, pool_t *p, const entry_t *e,
                          unsigned i, napi_value v, task_t *t) {
  const penny__param_t *pa = &e->sig.params[i];
  const char *kname = e->sig.name;
  bool is_ta = false;
  PENNY_NAPI_CALL_RET(env, napi_is_typedarray(env, v, &is_ta), false);
  if (!is_ta) {
    penny__throw_code(env, ERR_TYPE, "ERR_PENNY_ARG",
                      "%s: parameter '%s' must be a %s (%s[]), got %s", kname,
                      pa->name, penny__array_names[pa->type],
                      penny__type_name(pa->type), typeof_name(env, v));
    return false;
  }
  napi_typedarray_type tt;
  size_t length, byte_offset;
  void *data;
  napi_value buffer;
  PENNY_NAPI_CALL_RET(env, napi_get_typedarray_info(env, v, &tt, &length,
                                                    &data, &buffer,
                                                    &byte_offset), false);
  bool in_arena;
  int rc = penny__check_array(p->arena, p->arena_bytes, e, i,
                              penny_type_of(tt), data, length, t->args,
                              t->msg, &in_arena);
  if (rc != 0) {
    penny__throw_check(env, rc, t->msg);
    return false;
  }
  /* napi_is_arraybuffer is false for a SharedArrayBuffer: only those
   * cannot be detached or transferred while a worker writes. lib/ copies
   * views over ordinary buffers into the arena before it gets here. */
  bool is_ab = false;
  PENNY_NAPI_CALL_RET(env, napi_is_arraybuffer(env, buffer, &is_ab), false);
  if (is_ab) {
    penny__throw_code(env, ERR_TYPE, "ERR_PENNY_ARG",
                      "%s: parameter '%s' must be a view over a "
                      "SharedArrayBuffer", kname, pa->name);
    return false;
  }
  if (!in_arena && length > 0) {
    PENNY_NAPI_CALL_RET(env, napi_create_reference(env, v, 1,
                                                   &t->refs[t->nrefs]),
                        false);
    t->nrefs++;
  }
  return true;
}

/* Loop thread: fills t->args[i] from a number, or throws and returns
 * false. */
bool penny__convert_scalar(napi_env env, const entry_t *e, unsigned i,
                           napi_value v, task_t *t) {
  const penny__param_t *pa = &e->sig.params[i];
  napi_valuetype vt;
  PENNY_NAPI_CALL_RET(env, napi_typeof(env, v, &vt), false);
  if (vt != napi_number) {
    penny__throw_code(env, ERR_TYPE, "ERR_PENNY_ARG",
                      "%s: parameter '%s' must be a number (%s), got %s",
                      e->sig.name, pa->name, penny__type_name(pa->type),
                      typeof_name(env, v));
    return false;
  }
  double d;
  PENNY_NAPI_CALL_RET(env, napi_get_value_double(env, v, &d), false);
  int rc = penny__check_scalar(e, i, d, t->args, t->msg);
  if (rc != 0) {
    penny__throw_check(env, rc, t->msg);
    return false;
  }
  return true;
}
