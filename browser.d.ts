// penny/browser: the Pool on the C core compiled to WebAssembly, for
// cross-origin isolated pages (and, for tests, Node's worker_threads,
// Bun and Deno). The same shapes as penny's Node API; see README,
// "In the browser".
import type {
  PennyArray, PennyArrayConstructor, KernelInfo, TaskModule, RunTask,
  RunKernel, PennyErrorCode,
} from './index';

export type {
  PennyArray, PennyArrayConstructor, KernelInfo, KernelArg, RunOptions,
  TaskModule, TaskName,
} from './index';

/** The `code` of penny/browser's errors: Node's, and two of its own. */
export type BrowserErrorCode = PennyErrorCode | 'ERR_PENNY_ISOLATION' |
  'ERR_PENNY_LOAD';

export interface BrowserPoolOptions {
  /** Threads, each a module Web Worker; default
   * `navigator.hardwareConcurrency`. 1..256. */
  threads?: number;
  /** A task module's URL: `new URL('./tasks.js', import.meta.url)`, or a
   * URL string (relative ones resolve against the page). Its exported
   * functions run as tasks, synchronously, and import penny/task's
   * browser build by a URL they can resolve. */
  tasks?: URL | string;
  /** Accepted for code shared with Node and ignored: the shared memory
   * grows as needed, up to 2 GiB. */
  arenaBytes?: number;
}

export interface BrowserPoolStats {
  threads: number;
  submitted: number;
  completed: number;
  failed: number;
  cancelled: number;
  pending: number;
  steals: number;
  inlined: number;
  failedSteals: number;
  sleeps: number;
  wakeups: number;
  /** Bytes of the shared memory now. */
  arenaBytes: number;
}

/** A pool of module Web Workers running Penny's scheduler. `new Pool()`
 * throws `ERR_PENNY_ISOLATION` on a page that is not cross-origin
 * isolated. */
export class Pool<T extends TaskModule = {}> {
  constructor(options?: BrowserPoolOptions);
  readonly threads: number;
  /** The module's shared memory: every `alloc()`'d array is a view of it.
   * A new object after the memory grows (over the same bytes). */
  readonly arena: SharedArrayBuffer;
  readonly kernels: Readonly<Record<string, KernelInfo>>;
  readonly closed: boolean;
  /** A zeroed typed array in the shared memory, 64-byte aligned: passed
   * to kernels and tasks without copying. */
  alloc<C extends PennyArrayConstructor>(type: C, length: number):
    InstanceType<C>;
  /** Returns an `alloc()`'d view (that very view) to the memory. */
  free(view: PennyArray): void;
  /** A kernel, or a function of the task module (whose result must not
   * be a promise in the browser build). Never throws; rejects. */
  run: RunKernel & RunTask<T>;
  stats(): BrowserPoolStats;
  /** Lets pending calls finish, then stops the Workers. Idempotent. */
  close(): Promise<void>;
}

declare const _default: { Pool: typeof Pool };
export default _default;
