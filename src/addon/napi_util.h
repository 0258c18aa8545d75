/* Node-API status checks and errors with a `code`: every napi_status in
 * the binding goes through one of the macros below. */
#ifndef PENNY_ADDON_NAPI_UTIL_H
#define PENNY_ADDON_NAPI_UTIL_H

#include <node_api.h>

#include <stdbool.h>

/* On failure: throw (unless an exception is already pending) and return
 * `ret` from the calling function. */
#define PENNY_NAPI_CALL_RET(env, call, ret)                                   \
  do {                                                                        \
    if ((call) != napi_ok) {                                                  \
      penny__throw_last_error((env), #call);                                  \
      return ret;                                                             \
    }                                                                         \
  } while (0)

#define PENNY_NAPI_CALL(env, call) PENNY_NAPI_CALL_RET(env, call, NULL)
#define PENNY_NAPI_CALL_VOID(env, call) PENNY_NAPI_CALL_RET(env, call, )

/* For calls that cannot fail while the environment exists and take no
 * part in its teardown: a failure there is a broken invariant. */
#define PENNY_NAPI_CALL_FATAL(call)                                           \
  do {                                                                        \
    if ((call) != napi_ok)                                                    \
      napi_fatal_error(__FILE__ ":" PENNY_STR_(__LINE__), NAPI_AUTO_LENGTH,   \
                       #call, NAPI_AUTO_LENGTH);                              \
  } while (0)
#define PENNY_STR_(x) PENNY_STR2_(x)
#define PENNY_STR2_(x) #x

/* Throws an Error for the failed Node-API `call`, with the environment's
 * reason, unless an exception is already pending. */
void penny__throw_last_error(napi_env env, const char *call);

/* The classes of the errors the binding throws. */
typedef enum { ERR_PLAIN, ERR_TYPE, ERR_RANGE } err_class_t;

/* Throws a TypeError, RangeError or Error with a `code`. Returns NULL so
 * a js_* function can `return penny__throw_code(...)`. */
napi_value penny__throw_code(napi_env env, err_class_t cls, const char *code,
                             const char *fmt, ...)
  __attribute__((format(printf, 4, 5)));

/* A JS string; NULL, with an exception pending, on failure. */
napi_value penny__make_string(napi_env env, const char *s);

/* obj[key] = value; false on failure. */
bool penny__set_number(napi_env env, napi_value obj, const char *key,
                       double value);

#endif /* PENNY_ADDON_NAPI_UTIL_H */
