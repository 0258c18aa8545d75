/* The JS<->C contract (contract.h) as JavaScript sees it: one frozen
 * object, binding.contract, made once per environment at module init.
 * lib/ reads it into module-level constants when it loads, so the hot
 * paths never look at it again. */
#include "addon.h"
#include "napi_util.h"

typedef struct {
  const char *name;
  double value;
} constant_t;

#define COUNT_(a) (sizeof(a) / sizeof(*(a)))

/* The submission ring: sizes and field offsets in bytes. */
static const constant_t ring_layout[] = {
  { "align", RING_ALIGN },
  { "headerBytes", RING_HEADER_BYTES },
  { "cellBytes", RING_CELL_BYTES },
  { "minCells", RING_CELLS_MIN },
  { "maxCells", RING_CELLS_MAX },
  { "argSlots", RING_ARGS },
  { "sleepyOffset", RING_SLEEPY_OFFSET },
  { "epochOffset", RING_EPOCH_OFFSET },
  { "seqOffset", offsetof(ring_cell_t, seq) },
  { "kernelOffset", offsetof(ring_cell_t, kernel) },
  { "slotOffset", offsetof(ring_cell_t, slot) },
  { "metaOffset", offsetof(ring_cell_t, meta) },
  { "argsOffset", offsetof(ring_cell_t, arg) },
  { "argBytes", sizeof(((ring_cell_t *) 0)->arg[0]) },
  { "metaBits", RING_META_BITS },
};

/* The completion buffer: entries per batch, numbers per entry and the
 * index of each, limbs per BigInt. */
static const constant_t completion_layout[] = {
  { "batch", COMPLETION_BATCH },
  { "fields", COMPLETION_FIELDS },
  { "slot", COMPLETION_SLOT },
  { "status", COMPLETION_STATUS },
  { "value", COMPLETION_VALUE },
  { "limbs", COMPLETION_LIMBS },
};

static const constant_t activity_layout[] = {
  { "state", ACTIVITY_STATE },
  { "lazy", ACTIVITY_LAZY },
  { "inactive", ACTIVITY_INACTIVE },
  { "active", ACTIVITY_ACTIVE },
  { "idle", ACTIVITY_IDLE },
};

static const constant_t statuses[] = {
  { "RESULT", COMPLETION_RESULT },
  { "VOID", COMPLETION_VOID },
  { "ARG_TYPE", COMPLETION_ARG_TYPE },
  { "ARG_RANGE", COMPLETION_ARG_RANGE },
  { "BIGINT", COMPLETION_BIGINT },
  { "FAILED", COMPLETION_FAILED },
  { "PAYLOAD", COMPLETION_PAYLOAD },
  { "TASK_FAILED", COMPLETION_TASK_FAILED },
  { "THROWN", COMPLETION_THROWN },
  { "NUMBERS", COMPLETION_NUMBERS },
  { "CANCELLED", COMPLETION_CANCELLED },
};

/* The core's error codes by name (include/penny.h). */
static const constant_t errors[] = {
#define PENNY_ERRNO_CONSTANT_(name, value, msg) { #name, value },
  PENNY_ERRNO_MAP(PENNY_ERRNO_CONSTANT_)
#undef PENNY_ERRNO_CONSTANT_
};

/* JS tasks: the kernel's tag space (see JS_TASK_SIGNATURE) and the
 * enter() codes besides an epoch. */
static const constant_t js_tasks[] = {
  { "tags", JS_TASK_TAGS },
  { "viewTag", JS_TASK_TAG_VIEW },
  { "errorKind", JS_PAYLOAD_ERROR },
  { "kernelIndex", JS_TASK_INDEX },
  { "gone", -1 },
  { "left", -2 },
  { "busy", -3 },
  { "broken", -4 },
  { "mailboxLength", MAILBOX_LEN },
  { "mailboxCount", MAILBOX_COUNT },
  { "mailboxNumbers", MAILBOX_NUMBERS },
  { "resultNumbers", JS_RESULT_NUMBERS },
};

static const constant_t limits[] = {
  { "maxThreads", MAX_THREADS },
  { "maxKernels", MAX_KERNELS },
  { "maxArgs", PENNY_MAX_ARGS },
  { "maxTasks", (double) SLOT_CHUNK * MAX_CHUNKS },
};

/* Loop thread: freezes obj and sets it as parent[key]; false on failure. */
static bool set_frozen(napi_env env, napi_value parent, const char *key,
                       napi_value obj) {
  return napi_object_freeze(env, obj) == napi_ok &&
         napi_set_named_property(env, parent, key, obj) == napi_ok;
}

/* Loop thread: parent[key] = a frozen object of the n constants c. */
static bool set_constants(napi_env env, napi_value parent, const char *key,
                          const constant_t *c, size_t n) {
  napi_value obj;
  if (napi_create_object(env, &obj) != napi_ok)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!penny__set_number(env, obj, c[i].name, c[i].value))
      return false;
  return set_frozen(env, parent, key, obj);
}

/* Loop thread: parent.types = the element type codes (PENNY_I8 ..
 * PENNY_F64) by the name of the typed-array class that holds them. */
static bool set_types(napi_env env, napi_value parent) {
  napi_value obj;
  if (napi_create_object(env, &obj) != napi_ok)
    return false;
  for (int type = PENNY_I8; type <= PENNY_F64; type++)
    if (!penny__set_number(env, obj, penny__array_names[type], type))
      return false;
  return set_frozen(env, parent, "types", obj);
}

/* Loop thread: the contract object; NULL, with an exception pending, on
 * failure. */
napi_value penny__contract(napi_env env) {
  napi_value contract;
  PENNY_NAPI_CALL(env, napi_create_object(env, &contract));
  if (!penny__set_number(env, contract, "version", PENNY_CONTRACT_VERSION) ||
      !set_constants(env, contract, "ring", ring_layout,
                     COUNT_(ring_layout)) ||
      !set_constants(env, contract, "completions", completion_layout,
                     COUNT_(completion_layout)) ||
      !set_constants(env, contract, "activity", activity_layout,
                     COUNT_(activity_layout)) ||
      !set_constants(env, contract, "status", statuses, COUNT_(statuses)) ||
      !set_types(env, contract) ||
      !set_constants(env, contract, "errors", errors, COUNT_(errors)) ||
      !set_constants(env, contract, "limits", limits, COUNT_(limits)) ||
      !set_constants(env, contract, "jsTasks", js_tasks,
                     COUNT_(js_tasks)) ||
      napi_object_freeze(env, contract) != napi_ok) {
    penny__throw_last_error(env, "contract");
    return NULL;
  }
  return contract;
}
