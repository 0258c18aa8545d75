// Type definitions for penny: a Cilk-style work-stealing runtime for
// Node.js. See README.md for the behaviour behind each member.

/** Element types a kernel parameter can take; `num` means any of them. */
export type ElementType =
  | 'i8' | 'u8' | 'i16' | 'u16' | 'i32' | 'u32' | 'i64' | 'u64'
  | 'f32' | 'f64';

/** Typed arrays that kernels accept (not Uint8ClampedArray). */
export type PennyArray =
  | Int8Array | Uint8Array | Int16Array | Uint16Array
  | Int32Array | Uint32Array | BigInt64Array | BigUint64Array
  | Float32Array | Float64Array;

/** Constructors accepted by `pool.alloc`. */
export type PennyArrayConstructor =
  | Int8ArrayConstructor | Uint8ArrayConstructor
  | Int16ArrayConstructor | Uint16ArrayConstructor
  | Int32ArrayConstructor | Uint32ArrayConstructor
  | BigInt64ArrayConstructor | BigUint64ArrayConstructor
  | Float32ArrayConstructor | Float64ArrayConstructor;

/** One parameter of a kernel signature. */
export interface KernelParam {
  readonly name: string;
  /** Element type for arrays (`num`: any), value type for scalars. */
  readonly type: ElementType | 'num';
  readonly array: boolean;
  /** Direction of an array parameter; absent for scalars. */
  readonly dir?: 'in' | 'out' | 'inout';
}

/** An entry of `pool.kernels`. */
export interface KernelInfo {
  readonly index: number;
  readonly name: string;
  /** For example `"sum(in num[] x) -> f64"`. */
  readonly signature: string;
  readonly params: readonly KernelParam[];
  readonly result: 'f64' | 'void';
}

export interface PoolOptions {
  /** Worker threads; default `os.availableParallelism()`. 1..1024. */
  threads?: number;
  /** Size of the SharedArrayBuffer arena in bytes; default 64 MiB. Any
   * other option is a TypeError `ERR_PENNY_ARG`. */
  arenaBytes?: number;
  /** A CommonJS or ES module whose exported functions the pool runs as
   * tasks: an absolute path, or a `file:` URL as a string or a URL. Its
   * threads are Worker threads that load it. */
  tasks?: string | URL;
}

/** The functions of a task module, for typed calls:
 * `new Pool<typeof import('./tasks.js')>({ tasks })`. */
export type TaskModule = object;

/** Exported function names of a task module. */
export type TaskName<T> = {
  [K in keyof T]: T[K] extends (...args: any[]) => unknown ? K : never
}[keyof T] & string;

/** `pool.run` for the functions of a task module `T`: arguments and result
 * are cloned (views over a SharedArrayBuffer are shared), and a task that
 * returns a promise resolves with what it settles to. */
export interface RunTask<T> {
  <K extends TaskName<T>>(name: K,
    args: T[K] extends (...args: infer A) => unknown ? Readonly<A> : never,
    options?: RunOptions): Promise<
      T[K] extends (...args: any[]) => infer R ? Awaited<R> : never>;
  <K extends TaskName<T>>(name: T[K] extends () => unknown ? K : never):
    Promise<T[K] extends (...args: any[]) => infer R ? Awaited<R> : never>;
}

export interface RunOptions {
  /** Aborting rejects the promise with `signal.reason`, once the kernel
   * has stopped touching its arguments. */
  signal?: AbortSignal;
}

/** Argument of a kernel: a typed array or a number. */
export type KernelArg = PennyArray | number;

export interface PoolStats {
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
  arenaBytes: number;
  heapBytes: number;
  heapUsed: number;
}

/** What a reduction (sum, min, max, dot) of an array of type X resolves
 * to: a BigInt for 64-bit integer arrays, a number otherwise. */
export type Reduced<X extends PennyArray> =
  X extends BigInt64Array | BigUint64Array ? bigint : number;

/** The built-in kernels and their results. */
export interface BuiltinKernels {
  noop: { args: []; result: undefined };
  fib: { args: [n: number]; result: number };
  sum: { args: [x: PennyArray]; result: number | bigint };
  min: { args: [x: PennyArray]; result: number | bigint };
  max: { args: [x: PennyArray]; result: number | bigint };
  argmin: { args: [x: PennyArray]; result: number };
  argmax: { args: [x: PennyArray]; result: number };
  dot: { args: [a: PennyArray, b: PennyArray]; result: number | bigint };
  scale: { args: [x: PennyArray, a: number]; result: undefined };
  axpy: { args: [a: number, x: PennyArray, y: PennyArray]; result: undefined };
  add: { args: [a: PennyArray, b: PennyArray, c: PennyArray]; result: undefined };
  sub: { args: [a: PennyArray, b: PennyArray, c: PennyArray]; result: undefined };
  mul: { args: [a: PennyArray, b: PennyArray, c: PennyArray]; result: undefined };
  div: { args: [a: PennyArray, b: PennyArray, c: PennyArray]; result: undefined };
  sqrt: { args: [x: PennyArray, y: PennyArray]; result: undefined };
  exp: { args: [x: PennyArray, y: PennyArray]; result: undefined };
  log: { args: [x: PennyArray, y: PennyArray]; result: undefined };
  abs: { args: [x: PennyArray, y: PennyArray]; result: undefined };
  scan: { args: [x: PennyArray]; result: undefined };
  histogram: {
    args: [x: PennyArray, counts: Uint32Array, lo: number, hi: number];
    result: undefined;
  };
  sort: { args: [x: PennyArray]; result: undefined };
  gemm: {
    args: [A: Float32Array | Float64Array, B: Float32Array | Float64Array,
      C: Float32Array | Float64Array, m: number, n: number, k: number];
    result: undefined;
  };
  mandelbrot: {
    args: [iters: Uint32Array, width: number, height: number, x0: number,
      y0: number, x1: number, y1: number, maxIter: number];
    result: undefined;
  };
  fill: { args: [x: PennyArray, v: number]; result: undefined };
  spin: { args: [micros: number]; result: undefined };
}

/** Kernels a plugin adds, by name, for typed calls. Empty until a program
 * declares its plugins' kernels by augmenting it:
 *
 *     declare module 'penny' {
 *       interface PluginKernels {
 *         blur: { args: [src: Float32Array, dst: Float32Array, w: number,
 *           h: number, r: number, pass: number]; result: undefined };
 *       }
 *     }
 *
 * Undeclared plugin kernels are called through the names `load()` returns
 * (see `LoadedKernel`) or by index. */
export interface PluginKernels {}

/** Every kernel with a known signature: the built-ins and the declared
 * plugin kernels. */
export type Kernels = BuiltinKernels & PluginKernels;

declare const loadedKernel: unique symbol;
/** A kernel name returned by `pool.load()`: a string, marked so that `run`
 * accepts it while rejecting a misspelt built-in name. A name only known
 * at run time can be called by index: `pool.kernels[name].index`. */
export type LoadedKernel = string & { readonly [loadedKernel]: true };

/** The signatures of `pool.run` and `penny.run`. A name that is neither a
 * built-in kernel, a declared plugin kernel nor a `LoadedKernel` does not
 * compile. */
export interface RunKernel {
  <X extends PennyArray>(kernel: 'sum' | 'min' | 'max',
    args: readonly [x: X], options?: RunOptions): Promise<Reduced<X>>;
  <X extends PennyArray>(kernel: 'dot', args: readonly [a: X, b: X],
    options?: RunOptions): Promise<Reduced<X>>;
  <K extends keyof Kernels>(kernel: K, args: Kernels[K]['args'],
    options?: RunOptions): Promise<Kernels[K]['result']>;
  (kernel: 'noop'): Promise<undefined>;
  (kernel: LoadedKernel | number, args?: readonly KernelArg[],
    options?: RunOptions): Promise<number | bigint | undefined>;
}

/** A pool. `T` types the functions of its task module, if it has one:
 * `new Pool<typeof import('./tasks.js')>({ tasks: ... })`. */
export class Pool<T extends TaskModule = {}> {
  constructor(options?: PoolOptions);
  /** Number of worker threads. */
  readonly threads: number;
  /** The arena: all of it is the heap that `alloc()` manages. Nothing
   * written into it can lose a task; Penny's bookkeeping lives elsewhere. */
  readonly arena: SharedArrayBuffer;
  /** name -> kernel description; frozen. A successful `load()` replaces
   * it with a new object that also lists the plugin's kernels. */
  readonly kernels: Readonly<Record<string, KernelInfo>>;
  /** True once `close()` has been called. */
  readonly closed: boolean;
  /** A typed array in shared memory, passed to kernels without copying:
   * inside the arena, or over a SharedArrayBuffer of its own when the
   * arena has no room. */
  alloc<C extends PennyArrayConstructor>(type: C, length: number):
    InstanceType<C>;
  /** Returns a view from `alloc()` to the arena heap. Only that very view:
   * a subarray or another view over its memory throws `ERR_PENNY_ARG`. */
  free(view: PennyArray): void;
  /** Runs a kernel, or a function of the pool's task module, on the
   * pool's threads; resolves to its result. A name the task module
   * exports runs that function. */
  run: RunKernel & RunTask<T>;
  stats(): PoolStats;
  /** Loads a plugin (a shared library of C kernels, see docs/plugins.md)
   * into this pool and returns the names of its kernels. Throws an Error
   * with code `ERR_PENNY_PLUGIN` (and changes nothing) when the library
   * cannot be loaded, is not a Penny plugin, was built for another plugin
   * ABI, or declares a bad or clashing kernel; a TypeError
   * `ERR_PENNY_ARG` for a path that is not a non-empty string; an Error
   * `ERR_PENNY_CLOSED` after `close()`. */
  load(path: string): LoadedKernel[];
  /** Lets queued and running tasks finish, then stops the threads and
   * frees the pool's native memory. Idempotent. */
  close(): Promise<void>;
  /** Stops the pool now: every unfinished task rejects with
   * `ERR_PENNY_CLOSED`, running kernels are asked to stop, and a task
   * pool's threads are terminated, even one in an endless loop. Resolves
   * once they are gone. Idempotent. */
  terminate(): Promise<void>;
}

/** `pool.run` on a lazily created default pool. */
export const run: RunKernel;

/** The default pool behind `run()`, created on first use. */
export function defaultPool(): Pool;

/** The absolute path of the directory that holds `penny.h`, for building
 * plugins against this copy of Penny. */
export const include: string;

/** Error codes carried by `err.code`. */
export type PennyErrorCode =
  | 'ERR_PENNY_ARG' | 'ERR_PENNY_RANGE' | 'ERR_PENNY_KERNEL'
  | 'ERR_PENNY_CLOSED' | 'ERR_PENNY_PLUGIN' | 'ERR_PENNY_TASK';

declare const penny: {
  Pool: typeof Pool;
  run: typeof run;
  defaultPool: typeof defaultPool;
  include: string;
};
export default penny;
