/* Fork-join inside JavaScript tasks: the native half of penny/task's
 * join, spawn, sync and parallelFor (lib/task-fork.js).
 *
 * A child is a record on its thread's fork stack, whose frame the core
 * pushes on the thread's deque (penny_spawn_try). The child's function
 * runs in JavaScript: on its parent's thread when the sync pops the frame
 * back (lib/ calls it directly, so a child nobody stole costs two calls
 * into the binding and no call out of it), or on a thief, whose job
 * js_child_run calls that thread's runner with the child in its mailbox
 * and keeps the outcome here for the parent's sync.
 *
 * Records live in chunks that never move (a thief may hold a frame while
 * the stack grows), and in LIFO order: lib/ syncs a level's children
 * before the level returns, newest first, and a runner that fails has
 * its level's leftovers synced here (penny__fork_unwind).
 *
 * The stack stays bounded: a sync whose child was stolen runs other frames
 * on top of its own (the thief's first: the waited child's descendants)
 * only while the thread has used less than its budget of stack below
 * enter(); past that it waits without working. A waiting thread never
 * starts root tasks (penny_sync_try), so nothing it runs can leave the
 * core with the sync's frame on its stack. */
#include "addon.h"
#include "napi_util.h"

#include <stdlib.h>
#include <string.h>

/* What a child's record says of its outcome once its frame is done. */
typedef enum {
  CHILD_PENDING,  /* not run by a thief (yet) */
  CHILD_NUMBER,   /* num */
  CHILD_VOID,     /* undefined */
  CHILD_PAYLOAD,  /* res: an encoded value or error (lib/task-codec.js) */
  CHILD_ORPHAN,   /* the thief could not run JS: the parent runs it */
  CHILD_FAILED,   /* the thief stopped while the child ran */
} child_outcome_t;

typedef struct js_child_s {
  penny_task_t frame;
  double head, a, b;              /* as in the mailbox */
  uint8_t *args;                  /* encoded arguments, or NULL */
  size_t args_len;
  child_outcome_t outcome;
  double num;
  uint8_t *res;
  size_t res_len;
} js_child_t;

#define CHUNK 256

/* The thread's fork stack: `top` records in use, in `nchunks` chunks. */
typedef struct {
  js_child_t **chunks;
  size_t nchunks;
  size_t top;
} fork_stack_t;

static _Thread_local fork_stack_t tls_stack;

static js_child_t *child_at(size_t depth) {
  return &tls_stack.chunks[depth / CHUNK][depth % CHUNK];
}

/* Room for one more record; false when out of memory. */
static bool stack_reserve(void) {
  fork_stack_t *s = &tls_stack;
  if (s->top < s->nchunks * CHUNK)
    return true;
  js_child_t **chunks = realloc(s->chunks,
                                (s->nchunks + 1) * sizeof(*chunks));
  if (chunks == NULL)
    return false;
  s->chunks = chunks;
  js_child_t *chunk = malloc(CHUNK * sizeof(js_child_t));
  if (chunk == NULL)
    return false;
  s->chunks[s->nchunks++] = chunk;
  return true;
}

static void child_clear(js_child_t *c) {
  free(c->args);
  free(c->res);
  c->args = c->res = NULL;
  c->args_len = c->res_len = 0;
}

size_t penny__fork_depth(void) {
  return tls_stack.top;
}

/* Lent thread, leaving enter(): every child has been synced, so the
 * chunks go back to the heap until the thread forks again. */
void penny__fork_release(void) {
  fork_stack_t *s = &tls_stack;
  if (s->top != 0)
    return;
  for (size_t i = 0; i < s->nchunks; i++)
    free(s->chunks[i]);
  free(s->chunks);
  s->chunks = NULL;
  s->nchunks = 0;
}

/* May a sync on this thread run other work on top of its stack now? */
static int may_help(const lent_thread_t *lt) {
  char here;
  return !lt->dying &&
         (size_t) (lt->stack_base - &here) < lt->stack_budget;
}

/* Lent thread: syncs the records above `base` that a failed runner left,
 * newest first, and drops their outcomes. A frame still on the deque is
 * taken back unrun; one a thief holds is waited for, without taking
 * other work (this thread's JS is stopping). */
void penny__fork_unwind(penny_worker_t *w, size_t base) {
  while (tls_stack.top > base) {
    js_child_t *c = child_at(--tls_stack.top);
    (void) penny_sync_try(w, &c->frame, 0);
    child_clear(c);
  }
}

/* Lent thread: `ret`, what the runner returned for a child, becomes its
 * outcome. */
static void take_outcome(napi_env env, napi_value ret, js_child_t *c) {
  napi_valuetype type;
  napi_typedarray_type ta;
  size_t length;
  void *data;
  c->outcome = CHILD_FAILED;
  if (napi_typeof(env, ret, &type) != napi_ok)
    return;
  if (type == napi_number) {
    if (napi_get_value_double(env, ret, &c->num) == napi_ok)
      c->outcome = CHILD_NUMBER;
  } else if (type == napi_undefined) {
    c->outcome = CHILD_VOID;
  } else if (napi_get_typedarray_info(env, ret, &ta, &length, &data, NULL,
                                      NULL) == napi_ok &&
             ta == napi_uint8_array && length > 0) {
    c->res = malloc(length);
    if (c->res != NULL) {
      memcpy(c->res, data, length);
      c->res_len = length;
      c->outcome = CHILD_PAYLOAD;
    }
  }
}

/* A thief: the frame's fn. Runs the child in this thread's JavaScript on
 * behalf of the root task whose frame it is (for cancelled()). */
static void js_child_run(penny_worker_t *w, void *arg) {
  js_child_t *c = arg;
  lent_thread_t *lt = penny__lent;
  if (lt == NULL || lt->dying) {
    c->outcome = CHILD_ORPHAN;
    return;
  }
  penny_worker_t *saved_worker = lt->worker;
  task_t *saved_current = lt->current;
  js_child_t *saved_child = lt->child;
  size_t saved_floor = lt->floor;
  /* The slot word says whether the runner started the child; an enclosing
   * child's runner wrote its own there, which it reads after we return. */
  double saved_slot = lt->mailbox[MAILBOX_SLOT];
  penny_job_t *job = penny_worker_job(w);
  lt->worker = w;
  /* Every child descends from a JS task, whose record holds its job. */
  lt->current = job == NULL ? NULL
      : (task_t *) (void *) ((char *) job - offsetof(task_t, job));
  lt->child = c;
  lt->mailbox[MAILBOX_HEAD] = c->head;
  lt->mailbox[MAILBOX_A] = c->a;
  lt->mailbox[MAILBOX_B] = c->b;
  lt->mailbox[MAILBOX_SLOT] = MAILBOX_CHILD;
  size_t base = tls_stack.top;
  lt->floor = base;
  napi_handle_scope scope;
  napi_value ret;
  if (napi_open_handle_scope(lt->env, &scope) != napi_ok) {
    lt->dying = true;
    c->outcome = CHILD_ORPHAN;
  } else {
    if (penny__lent_call(lt, &ret))
      take_outcome(lt->env, ret, c);
    else
      c->outcome = lt->mailbox[MAILBOX_SLOT] == MAILBOX_CHILD
          ? CHILD_ORPHAN : CHILD_FAILED;
    (void) napi_close_handle_scope(lt->env, scope); /* nothing to undo */
  }
  penny__fork_unwind(w, base);
  lt->mailbox[MAILBOX_SLOT] = saved_slot;
  lt->floor = saved_floor;
  lt->child = saved_child;
  lt->current = saved_current;
  lt->worker = saved_worker;
  /* This thread's JS is stopping (the child called process.exit, say):
   * take no more work here, or the next task would fail unrun. A sync
   * that waits on this stack only hands what it steals back (orphans). */
  if (lt->dying)
    penny_worker_leave(w);
}

/* The lent thread inside a task, or NULL after throwing. */
static lent_thread_t *task_thread(napi_env env) {
  lent_thread_t *lt = penny__lent;
  if (lt != NULL && lt->worker != NULL && lt->env == env)
    return lt;
  penny__throw_code(env, ERR_TYPE, "ERR_PENNY_TASK",
                    "join, spawn, sync and parallelFor work only inside a "
                    "task, while it runs on its thread (not after it "
                    "awaits)");
  return NULL;
}

/* Lent thread, in a task: fork([args]) pushes a child whose head, a and b
 * lib/ wrote in the mailbox, with `args` (a Uint8Array) as its encoded
 * arguments if given. Returns true, or false when the deque is full: the
 * caller runs the child now. */
napi_value penny__js_fork(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  PENNY_NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  lent_thread_t *lt = task_thread(env);
  if (lt == NULL)
    return NULL;
  if (!stack_reserve())
    return penny__throw_code(env, ERR_PLAIN, "ERR_PENNY_NOMEM",
                             "out of memory for a child");
  js_child_t *c = child_at(tls_stack.top);
  c->args = c->res = NULL;
  c->args_len = c->res_len = 0;
  c->outcome = CHILD_PENDING;
  c->head = lt->mailbox[MAILBOX_HEAD];
  c->a = lt->mailbox[MAILBOX_A];
  c->b = lt->mailbox[MAILBOX_B];
  if (argc >= 1) {
    napi_typedarray_type type;
    size_t length;
    void *data;
    if (napi_get_typedarray_info(env, argv[0], &type, &length, &data, NULL,
                                 NULL) != napi_ok ||
        type != napi_uint8_array || length == 0)
      return penny__throw_code(env, ERR_TYPE, "ERR_PENNY_ARG",
                               "fork(args: Uint8Array)");
    c->args = malloc(length);
    if (c->args == NULL)
      return penny__throw_code(env, ERR_PLAIN, "ERR_PENNY_NOMEM",
                               "out of memory for a child's arguments");
    memcpy(c->args, data, length);
    c->args_len = length;
  }
  bool pushed = penny_spawn_try(lt->worker, &c->frame, js_child_run, c);
  if (pushed)
    tls_stack.top++;
  else
    child_clear(c);
  PENNY_NAPI_CALL(env, napi_get_boolean(env, pushed, &out));
  return out;
}

/* Lent thread, in a task: sync() syncs the newest child. Returns true when
 * the caller must run it (nobody stole it, or its thief could not),
 * otherwise what its thief's runner returned: a number, undefined or an
 * encoded payload (a Buffer); false if the thief stopped while it ran. */
napi_value penny__js_sync(napi_env env, napi_callback_info info) {
  (void) info;
  napi_value out = NULL;
  lent_thread_t *lt = task_thread(env);
  if (lt == NULL)
    return NULL;
  /* Below the floor are the children of enclosing levels, which their own
   * syncs (perhaps waiting right now, lower on this stack) own. */
  if (tls_stack.top <= lt->floor)
    return penny__throw_code(env, ERR_PLAIN, "ERR_PENNY_TASK",
                             "sync() with no child of this level to sync");
  /* The record stays counted while the thief runs it: work this thread
   * takes meanwhile forks above it. */
  js_child_t *c = child_at(tls_stack.top - 1);
  int here = penny_sync_try(lt->worker, &c->frame, may_help(lt));
  tls_stack.top--;
  napi_status st;
  switch (here ? CHILD_ORPHAN : c->outcome) {
  case CHILD_NUMBER:
    st = napi_create_double(env, c->num, &out);
    break;
  case CHILD_VOID:
    st = napi_get_undefined(env, &out);
    break;
  case CHILD_PAYLOAD:
    st = napi_create_buffer_copy(env, c->res_len, c->res, NULL, &out);
    break;
  case CHILD_FAILED:
    st = napi_get_boolean(env, false, &out);
    break;
  default: /* CHILD_ORPHAN, or CHILD_PENDING, which a done frame never is */
    st = napi_get_boolean(env, true, &out);
    break;
  }
  child_clear(c);
  PENNY_NAPI_CALL(env, st);
  return out;
}

/* Lent thread, running a stolen child: its encoded arguments (a Buffer),
 * or undefined if it has none. */
napi_value penny__js_child_args(napi_env env, napi_callback_info info) {
  (void) info;
  napi_value out;
  lent_thread_t *lt = penny__lent;
  js_child_t *c = lt != NULL ? lt->child : NULL;
  if (c == NULL || c->args == NULL) {
    PENNY_NAPI_CALL(env, napi_get_undefined(env, &out));
    return out;
  }
  PENNY_NAPI_CALL(env, napi_create_buffer_copy(env, c->args_len, c->args,
                                               NULL, &out));
  return out;
}

/* Lent thread, in a task: forkIdle() -> true when this worker's deque is
 * empty, so a thief would find nothing: time to split a range. */
napi_value penny__js_fork_idle(napi_env env, napi_callback_info info) {
  (void) info;
  napi_value out;
  lent_thread_t *lt = task_thread(env);
  if (lt == NULL)
    return NULL;
  PENNY_NAPI_CALL(env, napi_get_boolean(env,
                                        penny_worker_queued(lt->worker) <= 0,
                                        &out));
  return out;
}
