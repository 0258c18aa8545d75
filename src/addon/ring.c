/* The submission ring's consumer: the core's penny_source_t for a pool.
 *
 * Submissions take one of two paths. The fast one needs no native call:
 * lib/ writes the kernel index, the task's slot and up to RING_ARGS
 * scalars or arena views into a cell of the ring (its layout is in
 * contract.h) and publishes it with Atomics.store; idle workers poll the
 * ring, copy the cell out of JS-writable memory and check it exactly as
 * the slow path checks napi values. The slow path, a call to the pool
 * handle (js_submit), takes any arguments (views over other
 * SharedArrayBuffers are pinned with a reference) and serves whenever the
 * ring is full. */
#include "addon.h"
#include "../kernels/kernels.h"

#include <string.h>

/* Any thread: the cell for position `pos`. */
static ring_cell_t *ring_cell(pool_t *p, uint64_t pos) {
  return (ring_cell_t *) (void *) (p->ring + RING_HEADER_BYTES +
                                   (pos & (p->ring_cells - 1)) *
                                     RING_CELL_BYTES);
}

/* Any thread: what a cell's seq reads when it is free for position `pos`:
 * the turn counter less the cell's index (see ring_cell_t). Published is
 * one more. */
static int32_t ring_lap(const pool_t *p, uint64_t pos) {
  return (int32_t) (uint32_t) (pos & ~(uint64_t) (p->ring_cells - 1));
}

/* Any thread: the header word a worker sets before it sleeps. */
static _Atomic int32_t *ring_sleepy(pool_t *p) {
  return (_Atomic int32_t *) (void *) (p->ring + RING_SLEEPY_OFFSET);
}

/* Loop thread: the number of cells in a ring buffer of `ring_bytes` (with
 * lib/'s RING_ALIGN bytes of slack), or 0 if it holds no power of two of
 * cells from RING_CELLS_MIN to RING_CELLS_MAX. */
uint32_t penny__ring_cells(size_t ring_bytes) {
  const size_t fixed = RING_ALIGN + RING_HEADER_BYTES;
  size_t cells = ring_bytes >= fixed
                   ? (ring_bytes - fixed) / RING_CELL_BYTES : 0;
  if (ring_bytes != fixed + cells * RING_CELL_BYTES ||
      cells < RING_CELLS_MIN || cells > RING_CELLS_MAX ||
      (cells & (cells - 1)) != 0)
    return 0;
  return (uint32_t) cells;
}

/* Worker thread (teardown: the loop thread): checks a cell copied out of
 * the ring against the kernel's signature. */
static int check_cell(pool_t *p, const ring_cell_t *c, task_t *t) {
  /* Acquire: pairs with penny__plugin_load's release; the entries are set
   * up. */
  size_t nkernels = atomic_load_explicit(&p->table_len, memory_order_acquire);
  const entry_t *e = c->kernel < 0 ? NULL
                     : pool_entry(p, (uint32_t) c->kernel, nkernels);
  if (e == NULL)
    return penny__arg_error(t->msg, PENNY_ERANGE, "unknown kernel index %d",
                            c->kernel);
  t->entry = e;
  const uint32_t type_mask = (1u << RING_META_BITS) - 1;
  unsigned nargs = c->meta & type_mask;
  if (nargs != e->sig.nparams || nargs > RING_ARGS)
    return penny__arg_error(t->msg, PENNY_EINVAL,
                            "%s expects %u argument%s, got %u", e->sig.name,
                            e->sig.nparams, e->sig.nparams == 1 ? "" : "s",
                            nargs);
  for (unsigned i = 0; i < nargs; i++) {
    int rc;
    if (!e->sig.params[i].is_array) {
      rc = penny__check_scalar(e, i, c->arg[i][0], t->args, t->msg);
    } else {
      int type = (int) ((c->meta >> (RING_META_BITS * (i + 1))) & type_mask);
      double off = c->arg[i][0], len = c->arg[i][1];
      if (type > PENNY_F64)
        type = 0;
      size_t size = type ? penny__elem_size(type) : 1;
      /* Offsets and lengths are checked as doubles first, so that no
       * conversion below can wrap. */
      if (!(off >= 0 && off <= (double) p->arena_bytes &&
            off == (double) (size_t) off && (size_t) off % size == 0 &&
            len >= 0 && len * (double) size <= (double) p->arena_bytes - off &&
            len == (double) (size_t) len))
        return penny__arg_error(t->msg, PENNY_ERANGE,
                                "%s: parameter '%s' is not a view inside "
                                "the arena", e->sig.name,
                                e->sig.params[i].name);
      bool in_arena;
      rc = penny__check_array(p->arena, p->arena_bytes, e, i, type,
                              p->arena + (size_t) off, (size_t) len,
                              t->args, t->msg, &in_arena);
      if (rc == 0 && !in_arena && len > 0)
        rc = penny__arg_error(t->msg, PENNY_ERANGE,
                              "%s: parameter '%s' is not a view inside the "
                              "arena", e->sig.name, e->sig.params[i].name);
    }
    if (rc != 0)
      return rc;
  }
  return penny__check_kernel(e, t->args, t->msg);
}

/* Worker thread (and teardown on the loop thread): the core's source.
 * Takes the next published cell, copies it out of JS-writable memory,
 * frees the cell, and turns it into a job: one that runs the kernel, or
 * one that rejects the task when its arguments are wrong. */
penny_job_t *penny__ring_take(void *ctx) {
  pool_t *p = ctx;
  for (;;) {
    uint64_t pos = atomic_load_explicit(&p->ring_head, memory_order_relaxed);
    ring_cell_t *cell;
    for (;;) {
      cell = ring_cell(p, pos);
      /* Acquire: pairs with lib/'s Atomics.store of seq, which publishes
       * the cell's other words. */
      int32_t seq = atomic_load_explicit((_Atomic int32_t *) &cell->seq,
                                         memory_order_acquire);
      int32_t dif = (int32_t) ((uint32_t) seq -
                               (uint32_t) (ring_lap(p, pos) + 1));
      if (dif < 0)
        return NULL; /* empty */
      if (dif > 0) {
        /* Another consumer took this cell: its CAS moved the head, which
         * our acquire of seq makes visible. An unmoved head means a seq
         * that no lap of the producer wrote: JS scribbled on the ring.
         * Give up rather than spin on it. */
        uint64_t head = atomic_load_explicit(&p->ring_head,
                                             memory_order_relaxed);
        if (head == pos)
          return NULL;
        pos = head;
        continue;
      }
      /* Relaxed: the CAS only claims the cell; seq carried the data. */
      if (atomic_compare_exchange_weak_explicit(&p->ring_head, &pos, pos + 1,
                                                memory_order_relaxed,
                                                memory_order_relaxed))
        break;
    }
    ring_cell_t c;
    memcpy(&c, cell, sizeof(c));
    /* Release: our copy is taken before lib/ reuses the cell a lap later
     * (it checks seq with Atomics.load). */
    atomic_store_explicit((_Atomic int32_t *) &cell->seq,
                          (int32_t) ((uint32_t) ring_lap(p, pos) +
                                     p->ring_cells),
                          memory_order_release);
    task_t *t = penny__claim_slot(p, c.slot);
    if (t == NULL) {
      /* No such slot, or one in use: only a broken producer writes
       * that. Dropping the cell is safe; there is no task to settle. */
      continue;
    }
    int rc = check_cell(p, &c, t);
    t->job.arg = t;
    t->job.done = penny__task_done;
    t->job.data = t;
    penny_job_reset(&t->job);
    if (rc != 0) {
      t->rejected = 1;
      t->reject_code = rc;
      t->job.fn = penny__task_reject;
      return &t->job;
    }
    t->job.fn = penny__task_run;
    /* SeqCst (after penny_job_reset's SeqCst store): pairs with
     * penny__slot_cancel, which publishes its request before
     * penny_job_cancel; one of us sees the other, so the request is never
     * lost. */
    if (atomic_load_explicit(&t->cancel_req, memory_order_seq_cst))
      (void) penny_job_cancel(&t->job);
    return &t->job;
  }
}

/* Worker thread, about to sleep (see penny_source_t): announces it in the
 * ring's header, then looks for a published cell. */
int penny__ring_ready(void *ctx) {
  pool_t *p = ctx;
  /* SeqCst store then SeqCst load: pairs with lib/'s Atomics.store of a
   * cell's seq followed by its Atomics.load of this word. */
  atomic_store_explicit(ring_sleepy(p), 1, memory_order_seq_cst);
  uint64_t pos = atomic_load_explicit(&p->ring_head, memory_order_seq_cst);
  int32_t seq = atomic_load_explicit((_Atomic int32_t *) &ring_cell(p, pos)
                                       ->seq, memory_order_seq_cst);
  return seq == (int32_t) ((uint32_t) ring_lap(p, pos) + 1);
}

/* Loop thread: lib/ found the ring's sleepy word set after publishing a
 * cell: clear it and wake a worker if one sleeps and none searches. A
 * worker that goes to sleep later sets the word again. */
void penny__ring_wake(pool_t *p) {
  /* Relaxed: penny_pool_notify's SeqCst fence orders it before the look
   * at the sleepers; a sleeper counted before that look is woken (or a
   * searcher takes the work), one counted after sets the word anew. */
  atomic_store_explicit(ring_sleepy(p), 0, memory_order_relaxed);
  penny_pool_notify(p->core);
}
