/* Node-API status checks and errors with a `code` (see napi_util.h). */
#include "napi_util.h"

#include <stdarg.h>
#include <stdio.h>

/* Loop thread. */
void penny__throw_last_error(napi_env env, const char *call) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending)
    return;
  const napi_extended_error_info *info = NULL;
  const char *msg = NULL;
  if (napi_get_last_error_info(env, &info) == napi_ok && info != NULL)
    msg = info->error_message;
  char buf[256];
  snprintf(buf, sizeof(buf), "%s failed: %s", call,
           msg ? msg : "unknown Node-API error");
  /* A throw fails when an exception is already pending, which then
   * propagates instead, or when the environment is going away (a Worker
   * terminating), where no JavaScript will see it: neither is an error. */
  (void) napi_throw_error(env, NULL, buf);
}

/* Loop thread. */
napi_value penny__throw_code(napi_env env, err_class_t cls, const char *code,
                             const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  /* As in penny__throw_last_error, a failed throw is not an error. */
  if (cls == ERR_TYPE)
    (void) napi_throw_type_error(env, code, msg);
  else if (cls == ERR_RANGE)
    (void) napi_throw_range_error(env, code, msg);
  else
    (void) napi_throw_error(env, code, msg);
  return NULL;
}

/* Loop thread. */
napi_value penny__make_string(napi_env env, const char *s) {
  napi_value v;
  PENNY_NAPI_CALL(env, napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v));
  return v;
}

/* Loop thread. */
bool penny__set_number(napi_env env, napi_value obj, const char *key,
                       double value) {
  napi_value v;
  return napi_create_double(env, value, &v) == napi_ok &&
         napi_set_named_property(env, obj, key, v) == napi_ok;
}
