/* Penny's WebAssembly libc: the allocator, for one linear memory that
 * several instances of the module (one per Worker) share.
 *
 * Layout. Every block starts with an 8-byte header: its size in bytes
 * (header included, a multiple of 16) with two flags in the low bits, and
 * a tag that says what it is. Blocks start 8 bytes past a multiple of 16,
 * so every payload is 16-aligned (max_align_t on wasm32). The heap grows
 * from __heap_base upward: blocks lie end to end, and past the last one
 * is the wilderness [top, end), memory not yet cut into blocks. memory.grow
 * moves end; nothing is ever given back (WebAssembly cannot shrink a
 * memory), so what matters is reuse.
 *
 * Small requests (a block of at most 2048 bytes) come from eight
 * segregated free lists, one per power-of-two block size from 16 to 2048.
 * A list that runs dry carves an 8 KiB run, taken as one large block,
 * into blocks of its size; those stay in their class for good.
 *
 * Large blocks are kept in one doubly linked free list, searched first
 * fit, with boundary tags (Knuth): a free block repeats its size in its
 * last 4 bytes, and each header says whether the block before it is in
 * use, so a freed block merges with free neighbours on both sides at
 * once, and with the wilderness when it ends there. No two free blocks
 * are ever adjacent, and the block before the wilderness is never free.
 *
 * One spin lock guards it all. It never waits with memory.atomic.wait32:
 * that traps on a browser's main thread, which allocates too. The lock is
 * held for a list operation or a memory.grow, never for a copy or a
 * memset. A Worker terminated while it holds the lock leaves it held:
 * the host must not terminate a Worker that may be inside the module.
 *
 * The host may grow the memory itself. Then the pages that memory.grow
 * next gives the allocator do not follow its wilderness: it gives the
 * wilderness up (as a free block closed by a fence, a header that reads
 * as a block in use) and starts a new segment in the new pages.
 *
 * penny__malloc_check, at the end, walks the heap and counts broken
 * invariants, for the tests (test/wasm/libc.test.js). */
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Defined by wasm-ld: the first byte past the data and the first
 * instance's stack. */
extern unsigned char __heap_base;

#define PAGE 65536u
#define HDR 8u          /* header bytes before each payload */
#define MIN_LARGE 32u   /* a free large block: header, links, footer */
#define SMALL_CLASSES 8 /* block sizes 16 << 0 .. 16 << 7 */
#define SMALL_MAX (16u << (SMALL_CLASSES - 1))
#define RUN_BYTES 8192u  /* what a small class carves at a time */
#define GROW_PAGES 16u   /* grow by at least 1 MiB at a time */
#define MAX_ALIGN 65536u /* aligned_alloc's largest alignment */
/* The largest request: leaves room for the header, the rounding and the
 * alignment slack in 32 bits. Memory is at most 4 GiB anyway. */
#define MAX_REQUEST 0xfff00000u
/* Where the heap ends at the most, so that no block ends at 2^32, which
 * a 32-bit pointer cannot hold. */
#define MEM_LIMIT 0xfffffff0u
/* Segments remembered for penny__malloc_check; more are still used. */
#define MAX_SEGMENTS 32

/* Header flags, in the size word's low bits. */
#define INUSE 1u      /* this block is allocated (or a small block) */
#define PREV_INUSE 2u /* the block just before this one is not free */
#define SIZE_MASK (~(uint32_t) 15)

/* Header tags: free() checks them, and traps on anything else. */
#define TAG_LARGE 0x4c47504eu      /* a large block, free or in use */
#define TAG_SMALL 0x534d0000u      /* | class: a small block in use */
#define TAG_SMALL_FREE 0x73660000u /* | class: on its class's free list */
#define TAG_FENCE 0x46454e43u      /* the end of a given-up segment */

typedef struct {
  uint32_t size; /* bytes, header included, | INUSE | PREV_INUSE */
  uint32_t tag;
} hdr_t;

/* A free large block; its last 4 bytes (the footer) repeat its size. */
typedef struct free_s {
  hdr_t h;
  struct free_s *next;
  struct free_s *prev;
} free_t;

/* A free small block: the link lies in the payload. */
typedef struct small_s {
  struct small_s *next;
} small_t;

/* All of it is guarded by heap_lock, and zero until the first call
 * (.bss, which the first instance's start function zeroes once). */
static struct {
  int ready;
  uintptr_t top; /* the wilderness: [top, end), top = 8 mod 16 */
  uint64_t end;  /* 64-bit: a 4 GiB memory ends at 2^32 */
  free_t *large; /* free large blocks, most recently freed first */
  small_t *small[SMALL_CLASSES];
  /* Where each segment's first block is, for penny__malloc_check. */
  uintptr_t segment[MAX_SEGMENTS];
  unsigned segments; /* may exceed MAX_SEGMENTS */
} heap;

/* 0 free, 1 held. */
static _Atomic uint32_t heap_lock;

static void lock(void) {
  for (;;) {
    /* Acquire: pairs with the release in unlock, so the last holder's
     * changes to the heap are visible to us. */
    if (atomic_exchange_explicit(&heap_lock, 1, memory_order_acquire) == 0)
      return;
    /* Relaxed: only a hint that the lock may be free; the exchange above
     * is what orders. Spinning on a load keeps the line shared. */
    while (atomic_load_explicit(&heap_lock, memory_order_relaxed) != 0) {
    }
  }
}

static void unlock(void) {
  /* Release: our changes to the heap happen before the next holder's
   * acquiring exchange. */
  atomic_store_explicit(&heap_lock, 0, memory_order_release);
}

static hdr_t *hdr_at(uintptr_t addr) {
  return (hdr_t *) addr;
}

static hdr_t *hdr_of(void *payload) {
  return (hdr_t *) ((unsigned char *) payload - HDR);
}

static void *payload_of(hdr_t *h) {
  return (unsigned char *) h + HDR;
}

static uint32_t size_of(const hdr_t *h) {
  return h->size & SIZE_MASK;
}

static hdr_t *next_of(hdr_t *h) {
  return hdr_at((uintptr_t) h + size_of(h));
}

static void set_footer(hdr_t *h, uint32_t size) {
  ((uint32_t *) (void *) ((unsigned char *) h + size))[-1] = size;
}

/* ---- The large free list. ---- */

static void list_insert(free_t *f) {
  f->prev = NULL;
  f->next = heap.large;
  if (heap.large != NULL)
    heap.large->prev = f;
  heap.large = f;
}

static void list_remove(free_t *f) {
  if (f->prev != NULL)
    f->prev->next = f->next;
  else
    heap.large = f->next;
  if (f->next != NULL)
    f->next->prev = f->prev;
}

/* Marks [h, h + size) a free large block and lists it; the block before
 * it must be in use and the one after it already marked as following a
 * free block. */
static void make_free(hdr_t *h, uint32_t size) {
  h->size = size | PREV_INUSE;
  h->tag = TAG_LARGE;
  set_footer(h, size);
  list_insert((free_t *) h);
}

/* ---- The wilderness. ---- */

static uint64_t mem_end(size_t pages) {
  uint64_t end = (uint64_t) pages * PAGE;
  return end < MEM_LIMIT ? end : MEM_LIMIT;
}

static void heap_init(void) {
  uintptr_t base = (uintptr_t) &__heap_base;
  /* The first address at or after base that is 8 mod 16. */
  heap.top = ((base + 8 + 15) & ~(uintptr_t) 15) - 8;
  heap.end = mem_end(__builtin_wasm_memory_size(0));
  heap.segment[0] = heap.top;
  heap.segments = 1;
  heap.ready = 1;
}

/* Whether a block of `size` bytes fits in the wilderness, leaving the 8
 * bytes that a fence needs if the segment is ever given up. */
static int wilderness_fits(uint32_t size) {
  return (uint64_t) heap.top + size + HDR <= heap.end;
}

/* Gives up the wilderness, because the next pages are not ours: what is
 * left becomes a free block closed by a fence (or just a fence, if it is
 * too small), so that the block before it still has a header after it.
 * Returns 0 if the segment was left empty (then it needs no fence). */
static int retire_wilderness(void) {
  if ((uint64_t) heap.top + HDR > heap.end)
    return 0; /* nothing was ever cut from it, so no block precedes it */
  uint64_t room = heap.end - HDR - heap.top;
  hdr_t *fence =
      hdr_at((uintptr_t) (room >= MIN_LARGE ? heap.end - HDR : heap.top));
  if (room >= MIN_LARGE)
    make_free(hdr_at(heap.top), (uint32_t) room);
  fence->size = INUSE | (room >= MIN_LARGE ? 0 : PREV_INUSE);
  fence->tag = TAG_FENCE;
  return 1;
}

/* Grows the memory until a block of `size` bytes fits in the wilderness;
 * 0 when memory.grow refuses. */
static int grow_for(uint32_t size) {
  while (!wilderness_fits(size)) {
    uint64_t short_by = (uint64_t) heap.top + size + HDR - heap.end;
    size_t pages = (size_t) ((short_by + PAGE - 1) / PAGE);
    size_t want = pages < GROW_PAGES ? GROW_PAGES : pages;
    size_t old = __builtin_wasm_memory_grow(0, want);
    if (old == SIZE_MAX && want > pages) {
      want = pages; /* the margin does not fit; the need might */
      old = __builtin_wasm_memory_grow(0, want);
    }
    if (old == SIZE_MAX)
      return 0;
    uint64_t start = (uint64_t) old * PAGE;
    if (start != heap.end) {
      /* The host grew the memory since we last did: the pages between
       * are its own. A new segment; the loop grows again if the pages we
       * got are short by the 8 bytes it skips. */
      if (retire_wilderness())
        heap.segments++;
      heap.top = (uintptr_t) start + 8;
      if (heap.segments <= MAX_SEGMENTS)
        heap.segment[heap.segments - 1] = heap.top;
    }
    heap.end = mem_end(old + want);
  }
  return 1;
}

/* ---- Large blocks. ---- */

/* A block of at least `size` bytes (a multiple of 16, at least
 * MIN_LARGE), marked in use; NULL when out of memory. First fit on the
 * free list, splitting off the rest when it can stand as a block, then
 * the wilderness. */
static hdr_t *large_take(uint32_t size) {
  for (free_t *f = heap.large; f != NULL; f = f->next) {
    hdr_t *h = &f->h;
    uint32_t have = size_of(h);
    if (have < size)
      continue;
    list_remove(f);
    if (have - size >= MIN_LARGE) {
      /* The rest stays free; the block after it still follows a free
       * block. */
      h->size = size | INUSE | PREV_INUSE;
      make_free(next_of(h), have - size);
    } else {
      h->size |= INUSE;
      next_of(h)->size |= PREV_INUSE;
    }
    return h;
  }
  if (!wilderness_fits(size) && !grow_for(size))
    return NULL;
  hdr_t *h = hdr_at(heap.top);
  h->size = size | INUSE | PREV_INUSE; /* never a free block before top */
  h->tag = TAG_LARGE;
  heap.top += size;
  return h;
}

/* Frees a large block: merges it with a free block before it and with a
 * free block or the wilderness after it, and lists what results. */
static void large_release(hdr_t *h) {
  uint32_t size = size_of(h);
  hdr_t *next = next_of(h);
  if (!(h->size & PREV_INUSE)) {
    uint32_t prev_size = ((uint32_t *) (void *) h)[-1]; /* its footer */
    hdr_t *prev = hdr_at((uintptr_t) h - prev_size);
    list_remove((free_t *) prev);
    h = prev;
    size += prev_size;
  }
  if ((uintptr_t) next == heap.top) {
    heap.top = (uintptr_t) h; /* the block before h is in use */
    return;
  }
  if (!(next->size & INUSE)) {
    list_remove((free_t *) next);
    size += size_of(next);
    next = next_of(next);
  }
  next->size &= ~PREV_INUSE;
  make_free(h, size);
}

/* Cuts an in-use large block down to `keep` bytes, freeing the rest when
 * it can stand as a block. */
static void large_trim(hdr_t *h, uint32_t keep) {
  uint32_t size = size_of(h);
  if (size - keep < MIN_LARGE)
    return;
  h->size = keep | (h->size & (INUSE | PREV_INUSE));
  hdr_t *tail = next_of(h);
  tail->size = (size - keep) | INUSE | PREV_INUSE;
  tail->tag = TAG_LARGE;
  large_release(tail);
}

/* Grows an in-use large block in place to `want` bytes, into the free
 * block or the wilderness after it; 0 if it cannot. */
static int large_extend(hdr_t *h, uint32_t want) {
  uint32_t size = size_of(h);
  hdr_t *next = next_of(h);
  if ((uintptr_t) next == heap.top) {
    /* Growing may start a new segment, which would not follow h. */
    if (!wilderness_fits(want - size) &&
        (!grow_for(want - size) || (uintptr_t) next != heap.top))
      return 0;
    h->size += want - size;
    heap.top += want - size;
    return 1;
  }
  if ((next->size & INUSE) || size + size_of(next) < want)
    return 0;
  list_remove((free_t *) next);
  h->size += size_of(next);
  next_of(h)->size |= PREV_INUSE;
  large_trim(h, want);
  return 1;
}

/* ---- Small blocks. ---- */

/* The class of a block of `size` bytes (at most SMALL_MAX). */
static unsigned class_of(uint32_t size) {
  if (size <= 16)
    return 0;
  return 32 - (unsigned) __builtin_clz(size - 1) - 4; /* ceil(log2) - 4 */
}

/* Carves a run into blocks of class c and lists them; 0 when out of
 * memory. */
static int small_refill(unsigned c) {
  uint32_t block = 16u << c;
  hdr_t *run = large_take(RUN_BYTES);
  if (run == NULL) /* a run may not fit where one block still does */
    run = large_take(block < MIN_LARGE ? MIN_LARGE : block);
  if (run == NULL)
    return 0;
  uint32_t total = size_of(run);
  uint32_t count = total / block;
  uintptr_t base = (uintptr_t) run;
  uint32_t first_flags = run->size & PREV_INUSE;
  /* Listed from the end, so that the list hands them out in address
   * order. The last block takes the run's odd remainder, if any. */
  for (uint32_t i = count; i-- > 0;) {
    hdr_t *h = hdr_at(base + (uintptr_t) i * block);
    uint32_t size = i == count - 1 ? total - i * block : block;
    h->size = size | INUSE | (i == 0 ? first_flags : PREV_INUSE);
    h->tag = TAG_SMALL_FREE | c;
    small_t *s = payload_of(h);
    s->next = heap.small[c];
    heap.small[c] = s;
  }
  return 1;
}

static void *small_take(unsigned c) {
  if (heap.small[c] == NULL && !small_refill(c))
    return NULL;
  small_t *s = heap.small[c];
  heap.small[c] = s->next;
  hdr_of(s)->tag = TAG_SMALL | c;
  return s;
}

static void small_release(hdr_t *h, unsigned c) {
  small_t *s = payload_of(h);
  h->tag = TAG_SMALL_FREE | c;
  s->next = heap.small[c];
  heap.small[c] = s;
}

/* ---- The interface. ---- */

/* The bytes a request needs, header included, rounded to 16. */
static uint32_t block_size(size_t n) {
  return ((uint32_t) n + HDR + 15) & ~(uint32_t) 15;
}

/* Under the lock. */
static void *alloc_locked(size_t n) {
  uint32_t size = block_size(n);
  if (!heap.ready)
    heap_init();
  if (size <= SMALL_MAX)
    return small_take(class_of(size));
  hdr_t *h = large_take(size);
  return h != NULL ? payload_of(h) : NULL;
}

void *malloc(size_t n) {
  if (n > MAX_REQUEST)
    return NULL;
  lock();
  void *p = alloc_locked(n);
  unlock();
  return p;
}

void *calloc(size_t count, size_t size) {
  if (size != 0 && count > SIZE_MAX / size)
    return NULL;
  size_t n = count * size;
  void *p = malloc(n);
  if (p != NULL)
    memset(p, 0, n); /* reused memory is not zero; outside the lock */
  return p;
}

/* Checks a payload's header under the lock: 1 for a large block in use,
 * 0 for a small one (its class in *c); traps on anything else, which is
 * a pointer the allocator did not hand out, or one freed twice. */
static int classify(hdr_t *h, unsigned *c) {
  if (h->tag == TAG_LARGE && (h->size & INUSE))
    return 1;
  *c = h->tag & (SMALL_CLASSES - 1);
  if (h->tag == (TAG_SMALL | *c))
    return 0;
  unlock(); /* so the other threads can go on to report their own */
  abort();
}

void free(void *p) {
  if (p == NULL)
    return;
  hdr_t *h = hdr_of(p);
  unsigned c;
  lock();
  if (classify(h, &c))
    large_release(h);
  else
    small_release(h, c);
  unlock();
}

void *realloc(void *p, size_t n) {
  if (p == NULL)
    return malloc(n);
  if (n > MAX_REQUEST)
    return NULL;
  hdr_t *h = hdr_of(p);
  uint32_t want = block_size(n);
  unsigned c;
  size_t old_bytes;
  lock();
  if (classify(h, &c)) {
    uint32_t size = size_of(h);
    if (want < MIN_LARGE)
      want = MIN_LARGE;
    if (want <= size) {
      large_trim(h, want);
      unlock();
      return p;
    }
    if (large_extend(h, want)) {
      unlock();
      return p;
    }
    old_bytes = size - HDR;
  } else {
    uint32_t size = 16u << c;
    if (want <= size) {
      unlock();
      return p; /* a smaller small class would save little */
    }
    old_bytes = size - HDR;
  }
  void *q = alloc_locked(n);
  unlock();
  if (q == NULL)
    return NULL; /* p stays as it was, as C requires */
  memcpy(q, p, old_bytes < n ? old_bytes : n);
  free(p);
  return q;
}

void *aligned_alloc(size_t align, size_t n) {
  if (align == 0 || (align & (align - 1)) != 0 || align > MAX_ALIGN)
    return NULL;
  if (align <= 16)
    return malloc(n); /* every payload is 16-aligned */
  if (n > MAX_REQUEST)
    return NULL;
  uint32_t size = block_size(n);
  if (size < MIN_LARGE)
    size = MIN_LARGE;
  lock();
  if (!heap.ready)
    heap_init();
  /* Always a large block, so that the slack before the aligned payload
   * can be split off and freed. Room for that slack, which is at least
   * MIN_LARGE so that it can stand as a free block. */
  hdr_t *h = large_take(size + (uint32_t) align + MIN_LARGE);
  if (h != NULL) {
    uintptr_t p = (uintptr_t) payload_of(h);
    if ((p & (align - 1)) != 0) {
      uintptr_t q = (p + MIN_LARGE + align - 1) & ~(uintptr_t) (align - 1);
      uint32_t gap = (uint32_t) (q - p);
      hdr_t *aligned = hdr_of((void *) q);
      aligned->size = (size_of(h) - gap) | INUSE; /* after a free block */
      aligned->tag = TAG_LARGE;
      h->size = gap | INUSE | (h->size & PREV_INUSE);
      large_release(h);
      h = aligned;
    }
    large_trim(h, size);
  }
  unlock();
  return h != NULL ? payload_of(h) : NULL;
}

/* ---- For tests: a walk over the heap that checks its invariants. ---- */

/* Walks the blocks of the segment that starts at `a` and ends at the
 * wilderness or at a fence, counting broken invariants into *bad and
 * free blocks into *free_blocks. */
static void check_segment(uintptr_t a, int *bad, size_t *free_blocks) {
  int prev_free = 0;
  while (a != heap.top) {
    hdr_t *h = hdr_at(a);
    uint32_t size = size_of(h);
    if (h->tag == TAG_FENCE) {
      *bad += ((h->size & PREV_INUSE) != 0) == prev_free;
      return;
    }
    if (size < 16 || ((h->size & PREV_INUSE) != 0) == prev_free ||
        (a < heap.top && a + size > heap.top)) {
      (*bad)++;
      return;
    }
    int is_free = !(h->size & INUSE);
    if (is_free) {
      (*free_blocks)++;
      *bad += h->tag != TAG_LARGE || prev_free ||
              ((uint32_t *) (void *) (a + size))[-1] != size;
    } else {
      unsigned c = h->tag & (SMALL_CLASSES - 1);
      *bad += h->tag != TAG_LARGE && h->tag != (TAG_SMALL | c) &&
              h->tag != (TAG_SMALL_FREE | c);
    }
    prev_free = is_free;
    a += size;
  }
  *bad += prev_free; /* a free block just before the wilderness */
}

/* The number of broken invariants in the heap: sizes, tags, flags,
 * footers, no two free blocks adjacent, none before the wilderness, the
 * large free list holding exactly the free blocks, and the small free
 * lists only blocks marked free. It takes the lock, so it may run while
 * other threads allocate. */
int penny__malloc_check(void);
int penny__malloc_check(void) {
  int bad = 0;
  lock();
  if (!heap.ready)
    heap_init();
  size_t listed = 0;
  for (free_t *f = heap.large; f != NULL; f = f->next) {
    listed++;
    bad += f->h.tag != TAG_LARGE || (f->h.size & INUSE) != 0;
    bad += f->next != NULL && f->next->prev != f;
  }
  for (unsigned c = 0; c < SMALL_CLASSES; c++)
    for (small_t *s = heap.small[c]; s != NULL; s = s->next)
      bad += hdr_of(s)->tag != (TAG_SMALL_FREE | c);
  if (heap.segments <= MAX_SEGMENTS) {
    size_t free_blocks = 0;
    for (unsigned i = 0; i < heap.segments; i++)
      check_segment(heap.segment[i], &bad, &free_blocks);
    bad += free_blocks != listed;
  }
  unlock();
  return bad;
}
