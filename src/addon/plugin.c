/* Plugins: shared libraries of C kernels that pool.load() adds to one
 * pool's table (see docs/plugins.md). Penny hands each the table of its
 * fork-join API, so a plugin links against nothing; a plugin's failure
 * with a message is recorded here for its task. */
#include "addon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(_WIN32)
# include <windows.h>
#else
# include <dlfcn.h>
#endif

/* Any worker: claims the first failure of the current task for a message
 * (FAILURE_MESSAGE) or a code alone (FAILURE_CODE); the task that runs on
 * `w`, or NULL when it lost or there is none. */
static task_t *claim_failure(penny_worker_t *w, failure_kind_t how) {
  penny_job_t *job = penny_worker_job(w);
  if (job == NULL)
    return NULL;
  task_t *t = job->data; /* every job of the binding's pools is a record */
  int expected = FAILURE_NONE;
  /* Relaxed: one claimer wins; the joins that end the kernel order its
   * writes before the task completes. */
  return atomic_compare_exchange_strong_explicit(&t->failure_kind, &expected,
                                                 (int) how,
                                                 memory_order_relaxed,
                                                 memory_order_relaxed)
    ? t : NULL;
}

/* Any worker: penny_fail for plugins, which keeps the first failure the
 * one reported when a message comes later. */
static void host_fail(penny_worker_t *w, int err) {
  if (err >= 0)
    return;
  claim_failure(w, FAILURE_CODE);
  penny_fail(w, err);
}

/* Any worker: fails the current task with a message (penny_api_t). */
static void host_fail_message(penny_worker_t *w, const char *msg) {
  task_t *t = claim_failure(w, FAILURE_MESSAGE);
  if (t != NULL) {
    if (msg == NULL || *msg == '\0')
      msg = "kernel failed";
    size_t n = strlen(msg);
    if (n > MSG_MAX - 1) {
      n = MSG_MAX - 1;
      /* Do not cut a UTF-8 sequence (at most 3 continuation bytes). */
      while (n > MSG_MAX - 4 && ((unsigned char) msg[n] & 0xc0) == 0x80)
        n--;
    }
    memcpy(t->msg, msg, n);
    t->msg[n] = '\0';
  }
  penny_fail(w, PENNY_EKERNEL);
}

static const penny_api_t host_api = {
  PENNY_PLUGIN_ABI, sizeof(penny_api_t),
  penny_spawn, penny_sync, penny_join, penny_for, penny_cancelled,
  host_fail, host_fail_message, penny_worker_index, penny_worker_count
};

/* Loop thread: opens a shared library; NULL with a reason in err. */
static void *lib_open(const char *path, char *err, size_t errlen) {
#if defined(_WIN32)
  HMODULE h = LoadLibraryA(path);
  if (h == NULL)
    snprintf(err, errlen, "LoadLibrary failed with error %lu",
             (unsigned long) GetLastError());
  return (void *) h;
#else
  /* RTLD_LOCAL: a plugin's symbols never resolve another plugin's. */
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (h == NULL) {
    const char *why = dlerror();
    snprintf(err, errlen, "%s", why ? why : "dlopen failed");
  }
  return h;
#endif
}

/* Loop thread: a symbol of an open library, or NULL. */
static void *lib_symbol(void *lib, const char *name) {
#if defined(_WIN32)
  return (void *) GetProcAddress((HMODULE) lib, name);
#else
  return dlsym(lib, name);
#endif
}

/* Loop thread, with no code of the library running. */
static void lib_close(void *lib) {
#if defined(_WIN32)
  FreeLibrary((HMODULE) lib);
#else
  dlclose(lib);
#endif
}

/* Loop thread: checks a plugin's kernels and parses their signatures into
 * `entries`; NULL, or a reason in err. Changes nothing in the pool. */
static const char *plugin_entries(const pool_t *p, const penny_plugin_t *d,
                                  entry_t *entries, char *err,
                                  size_t errlen) {
  size_t len = atomic_load_explicit(&p->table_len, memory_order_relaxed);
  for (uint32_t i = 0; i < d->count; i++) {
    const penny_kernel_t *k = &d->kernels[i];
    const char *why = NULL;
    if (k->signature == NULL || k->fn == NULL) {
      snprintf(err, errlen, "kernel #%u has no %s", i,
               k->signature == NULL ? "signature" : "function");
      return err;
    }
    if (penny__sig_parse(k->signature, &entries[i].sig, &why) != 0) {
      snprintf(err, errlen, "kernel #%u has a malformed signature \"%.80s\":"
               " %s", i, k->signature, why);
      return err;
    }
    entries[i].kernel = k;
    const char *name = entries[i].sig.name;
    for (size_t j = 0; j < len; j++)
      if (strcmp(p->table[j]->sig.name, name) == 0) {
        snprintf(err, errlen, "kernel '%s' clashes with a kernel of the "
                 "same name already in the pool", name);
        return err;
      }
    for (uint32_t j = 0; j < i; j++)
      if (strcmp(entries[j].sig.name, name) == 0) {
        snprintf(err, errlen, "kernel '%s' is declared twice", name);
        return err;
      }
  }
  return NULL;
}

/* Loop thread: opens the plugin at `path` and appends its kernels to the
 * pool's table; all or nothing. Returns NULL, or the reason it failed
 * (in err). On success *first is the index of its first kernel. */
const char *penny__plugin_load(pool_t *p, const char *path, size_t *first,
                               char *err, size_t errlen) {
  char why[512];
  void *lib = lib_open(path, why, sizeof(why));
  if (lib == NULL) {
    snprintf(err, errlen, "cannot load %.200s: %.250s", path, why);
    return err;
  }
  penny_plugin_entry_fn entry;
  void *sym = lib_symbol(lib, PENNY_PLUGIN_ENTRY_NAME);
  memcpy(&entry, &sym, sizeof(entry)); /* object to function pointer */
  const penny_plugin_t *d = NULL;
  entry_t *entries = NULL;
  plugin_lib_t *node = NULL;
  size_t len = atomic_load_explicit(&p->table_len, memory_order_relaxed);
  if (sym == NULL) {
    snprintf(err, errlen, "%.200s is not a Penny plugin: it does not export "
             "%s()", path, PENNY_PLUGIN_ENTRY_NAME);
  } else if ((d = entry(PENNY_PLUGIN_ABI, &host_api)) == NULL) {
    snprintf(err, errlen, "%.200s: %s() returned NULL", path,
             PENNY_PLUGIN_ENTRY_NAME);
  } else if (d->abi != PENNY_PLUGIN_ABI) {
    snprintf(err, errlen, "%.200s was built for plugin ABI %u, and this Penny "
             "speaks %u: rebuild it against this version's penny.h", path,
             (unsigned) d->abi, (unsigned) PENNY_PLUGIN_ABI);
  } else if (d->count == 0 || d->kernels == NULL) {
    snprintf(err, errlen, "%.200s declares no kernels", path);
  } else if (d->count > MAX_KERNELS - len) {
    snprintf(err, errlen, "%.200s: a pool holds at most %d kernels", path,
             MAX_KERNELS);
  } else if ((entries = calloc(d->count, sizeof(entry_t))) == NULL ||
             (node = calloc(1, sizeof(*node))) == NULL) {
    snprintf(err, errlen, "%.200s: out of memory", path);
  } else if (plugin_entries(p, d, entries, why, sizeof(why)) != NULL) {
    snprintf(err, errlen, "%.200s: %.250s", path, why);
  } else {
    for (uint32_t i = 0; i < d->count; i++)
      p->table[len + i] = &entries[i];
    /* Release: workers that see the new length (acquire in check_cell)
     * see the entries. */
    atomic_store_explicit(&p->table_len, len + d->count,
                          memory_order_release);
    node->lib = lib;
    node->entries = entries;
    node->next = p->plugins;
    p->plugins = node;
    *first = len;
    return NULL;
  }
  free(node);
  free(entries);
  lib_close(lib);
  return err;
}

/* Loop thread, once the workers are joined (no plugin code can be
 * running): closes the pool's plugin libraries and frees their entries. */
void penny__plugins_close(pool_t *p) {
  while (p->plugins != NULL) {
    plugin_lib_t *lib = p->plugins;
    p->plugins = lib->next;
    lib_close(lib->lib);
    free(lib->entries);
    free(lib);
  }
}
