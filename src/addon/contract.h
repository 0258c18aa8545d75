/* The contract between the binding and lib/: the layout of the memory they
 * share (the submission ring, the completion buffer), what a completion's
 * status means, and the limits lib/ checks before it calls. Each constant
 * is defined here once; contract.c exports them to JavaScript as the
 * frozen object `binding.contract`, which lib/ and the tests read instead
 * of restating them. Plain C, no Node. */
#ifndef PENNY_ADDON_CONTRACT_H
#define PENNY_ADDON_CONTRACT_H

#include "penny.h"

#include <stddef.h>
#include <stdint.h>

/* The contract's version, which lib/binding.js requires of the addon it
 * loads (CONTRACT_VERSION there): one more at every change to this file,
 * to what contract.c exports or to what the binding's functions take and
 * return, so that an addon built from other sources is refused at once.
 * test/js/contract.test.js notices an edit here or in contract.c that
 * came without one. */
#define PENNY_CONTRACT_VERSION 1

/* ---- The submission ring. ---- */

/* A SharedArrayBuffer of its own that lib/ keeps private, so no view a
 * user can make reaches it (a stray write into the public arena can
 * garble data, never lose a task). lib/ allocates RING_ALIGN bytes more
 * than it needs, from which the binding picks a cache-line start (the
 * engine aligns a buffer less); there a RING_HEADER_BYTES header, then a
 * power of two of RING_CELL_BYTES cells, from RING_CELLS_MIN to
 * RING_CELLS_MAX. */
#define RING_ALIGN 64
#define RING_HEADER_BYTES 64
#define RING_CELL_BYTES 64
#define RING_CELLS_MIN 256
#define RING_CELLS_MAX 16384
#define RING_ARGS 3

/* The header's int32 that a worker sets before it sleeps (see ring.c). */
#define RING_SLEEPY_OFFSET 0
/* A task pool's wake-up epoch (a uint32), on which its lent threads park
 * in Atomics.wait (jstask.c). */
#define RING_EPOCH_OFFSET 8

/* One cell, as JS lays it out. `seq` is Vyukov's turn counter (int32,
 * wrapping) less the cell's index, so that zeroed memory is a free ring
 * and its pages are touched only when used: for position `pos` in cell
 * pos & mask, pos & ~mask means free for that lap and (pos & ~mask) + 1
 * published. `meta` holds the argument count in its low RING_META_BITS
 * bits and, for an array argument i, its element type (PENNY_I8 ..
 * PENNY_F64) in the RING_META_BITS bits from (i + 1) * RING_META_BITS.
 * Each argument is (value, 0) for a scalar and (byte offset in the
 * arena, length) for an array. */
#define RING_META_BITS 8

typedef struct {
  int32_t seq;
  int32_t kernel;
  int32_t slot;
  uint32_t meta;
  double arg[RING_ARGS][2];
} ring_cell_t;

_Static_assert(sizeof(ring_cell_t) == RING_CELL_BYTES, "ring cell layout");
_Static_assert(RING_HEADER_BYTES % 8 == 0 && RING_CELL_BYTES % 8 == 0,
               "every cell's doubles are 8-byte aligned");
_Static_assert(RING_ARGS <= PENNY_MAX_ARGS &&
               (RING_ARGS + 1) * RING_META_BITS <= 32,
               "meta holds the count and a type per ring argument");
_Static_assert(PENNY_F64 < (1 << RING_META_BITS), "a type fits its bits");

/* ---- Completions. ---- */

/* What a completion tells lib/ about its task, named for how the task's
 * promise settles. The binding computes it once per task (see
 * completion_status in completion.c). */
typedef enum {
  /* Fulfilled with the kernel's f64 result, in the value field. */
  COMPLETION_RESULT = 0,
  /* Fulfilled with undefined: a void kernel succeeded. */
  COMPLETION_VOID = 1,
  /* Refused on a worker before it ran, for a TypeError or a RangeError;
   * message() returns why. A bad call rather than a task. */
  COMPLETION_ARG_TYPE = 2,
  COMPLETION_ARG_RANGE = 3,
  /* Fulfilled with a BigInt, whose limbs travel in the limbs array. */
  COMPLETION_BIGINT = 4,
  /* The kernel failed; message() says how. */
  COMPLETION_FAILED = 5,
  /* A JS task's outcome as bytes (lib/task-codec.js), which payload()
   * returns: a value it fulfils with or an error it rejects with. */
  COMPLETION_PAYLOAD = 6,
  /* A JS task that could not finish (its thread stopped); message() says
   * why. */
  COMPLETION_TASK_FAILED = 7,
  /* As PAYLOAD, for a JS task that threw: the payload holds the error. */
  COMPLETION_THROWN = 8,
  /* Fulfilled with an array of as many numbers as the value field says
   * (at most JS_RESULT_NUMBERS), which travel as doubles in the limbs
   * array: a JS task's short array of numbers, with no payload. */
  COMPLETION_NUMBERS = 9,
  /* Cancelled before or while it ran. */
  COMPLETION_CANCELLED = PENNY_ECANCELED
} completion_status_t;

/* lib/'s onComplete(n) finds n completions in a Float64Array of
 * COMPLETION_BATCH entries of COMPLETION_FIELDS numbers (the task's slot,
 * its status, its f64 result), and for a BigInt result the
 * COMPLETION_LIMBS 64-bit limbs of the n-th entry (least significant
 * first, two's complement) at n * COMPLETION_LIMBS of a BigUint64Array. */
#define COMPLETION_BATCH 1024
enum { COMPLETION_SLOT, COMPLETION_STATUS, COMPLETION_VALUE,
       COMPLETION_FIELDS };
#define COMPLETION_LIMBS 4

_Static_assert(sizeof(((penny_result_t *) 0)->limbs) ==
               COMPLETION_LIMBS * sizeof(uint64_t), "a BigInt's limbs");

/* After the limbs, an Int32Array of ACTIVITY_WORDS that only the loop
 * thread touches (lib/ and the prepare callback): whether lib/ has tasks
 * pending (ACTIVITY_STATE) and whether lib/ may leave the handles' stop
 * to the prepare callback (ACTIVITY_LAZY, 1 where the runtime has one).
 * lib/ writes ACTIVE when its first task is pending (calling
 * active(true) instead if the state is INACTIVE), and where lazy, IDLE
 * when its last one settles; the next prepare callback then stops the
 * handles (INACTIVE). A task awaited at a time thus costs no call to
 * start or stop them. */
enum { ACTIVITY_STATE, ACTIVITY_LAZY, ACTIVITY_WORDS };
enum { ACTIVITY_INACTIVE, ACTIVITY_ACTIVE, ACTIVITY_IDLE };

/* ---- JS tasks. ---- */

/* The kernel a JS task runs as (jstask.c), which only a task pool has and
 * which is not in its table: head is the function's id times JS_TASK_TAGS
 * plus a tag that says what a and b hold (lib/pool.js). */
#define JS_TASK_SIGNATURE "__task(f64 head, f64 a, f64 b) -> f64"
#define JS_TASK_TAGS 8
/* The tag of one view over a SharedArrayBuffer, in a and b themselves
 * (lib/task-codec.js, viewCell). */
#define JS_TASK_TAG_VIEW 6
/* A JS task's result of at most this many numbers in an array travels in
 * its completion (COMPLETION_NUMBERS). */
#define JS_RESULT_NUMBERS COMPLETION_LIMBS
/* Its index in submissions: past every table. */
#define JS_TASK_INDEX MAX_KERNELS
/* The first byte of a payload that holds a thrown error. */
#define JS_PAYLOAD_ERROR 2

/* ---- Limits. ---- */

/* Worker threads per pool, as lib/ and create() accept them (the core's
 * own limit is higher). */
#define MAX_THREADS 1024
/* Kernels per pool, built-ins and plugins together. */
#define MAX_KERNELS 4096
/* Task records are allocated SLOT_CHUNK at a time, at most MAX_CHUNKS
 * chunks: so at most 4M tasks in flight. */
#define SLOT_CHUNK 1024
#define MAX_CHUNKS 4096

#endif /* PENNY_ADDON_CONTRACT_H */
