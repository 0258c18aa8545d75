// Compiled (never run) by `npm test`: the typings accept the documented
// API and reject misuse. Each @ts-expect-error must stay an error.
import penny, {
  Pool, run, type KernelInfo, type LoadedKernel, type PoolStats,
} from '../..';

// A program declares the kernels of the plugins it loads.
declare module '../..' {
  interface PluginKernels {
    boxBlur: {
      args: [src: Float32Array, dst: Float32Array, w: number, h: number,
        r: number];
      result: undefined;
    };
  }
}

async function main(): Promise<void> {
  const pool = new Pool({ threads: 2, arenaBytes: 1 << 20 });
  const threads: number = pool.threads;
  const arena: SharedArrayBuffer = pool.arena;
  const fib: KernelInfo = pool.kernels.fib;
  const x: Float64Array = pool.alloc(Float64Array, 16);
  const y: BigInt64Array = pool.alloc(BigInt64Array, 4);
  const f: Float32Array = pool.alloc(Float32Array, 16);

  const n: number = await pool.run('fib', [20]);
  const s: number | bigint = await pool.run('sum', [x]);
  // A reduction of a float or 32-bit array is a number, of a 64-bit
  // integer array a bigint.
  const mean: number = (await pool.run('sum', [x])) / x.length;
  const top: bigint = await pool.run('max', [y]);
  const dot: number = await run('dot', [x, x]);
  // @ts-expect-error the sum of a BigInt64Array is a bigint
  const notNumber: number = await pool.run('sum', [y]);
  const i: number = await pool.run('argmax', [x]);
  const v: undefined = await pool.run('fill', [x, 1]);
  const z: undefined = await pool.run('noop');
  const any: number | bigint | undefined = await pool.run(2, [x]);
  await pool.run('spin', [10], { signal: AbortSignal.timeout(5) });
  const stats: PoolStats = pool.stats();
  const headers: string = penny.include;
  // A plugin kernel is called by the name load() returned, by index, or
  // by its declared name (PluginKernels, below); a misspelt one is not.
  const names: string[] = pool.load('./build/blur.so');
  const [blurName]: LoadedKernel[] = pool.load('./build/blur.so');
  const blurred: number | bigint | undefined =
    await pool.run(blurName, [x, x, 4, 4, 1, 1]);
  const box: undefined = await pool.run('boxBlur', [f, f, 4, 4, 1]);
  // @ts-expect-error boxBlur's radius is a number
  await pool.run('boxBlur', [f, f, 4, 4, '1']);
  // @ts-expect-error an undeclared name is not a kernel
  await pool.run('blur', [x, x, 4, 4, 1, 1]);
  // @ts-expect-error a misspelt built-in kernel does not compile
  await pool.run('summ', [x]);
  // @ts-expect-error nor on the default pool
  await run('fil', [x, 1]);
  // @ts-expect-error a plain string is not a loaded kernel name
  await pool.run(String(blurName), [x]);
  pool.free(x);
  pool.free(y);
  await pool.close();
  const again: number = await run('fib', [10]);
  const p2: Pool = penny.defaultPool();

  // @ts-expect-error fib takes a number
  await pool.run('fib', ['20']);
  // @ts-expect-error sum's result is a number, not a string
  const bad: string = await pool.run('sum', [x]);
  // @ts-expect-error alloc takes a typed-array class
  pool.alloc(Array, 3);
  // @ts-expect-error threads is a number
  new Pool({ threads: 'two' });
  // @ts-expect-error load takes a path
  pool.load(42);

  void [threads, arena, fib, n, s, i, v, z, any, stats, names, blurred,
    again, p2, bad, mean, top, dot, notNumber, headers, box];
}

void main;

// A task pool typed by its module.
async function tasks(): Promise<void> {
  const pool = new Pool<typeof import('./tasks')>({
    threads: 2, tasks: new URL('./tasks.js', 'file:///app/'),
  });
  const sum: number = await pool.run('add', [1, 2]);
  const hi: string = await pool.run('greet', ['x']);
  const none: void = await pool.run('scale', [pool.alloc(Float64Array, 4), 2]);
  const t: number = await pool.run('now');
  const k: number | bigint = await pool.run('sum', [pool.alloc(Float64Array, 4)]);
  // @ts-expect-error add takes numbers
  await pool.run('add', ['1', 2]);
  // @ts-expect-error greet resolves to a string
  const wrong: number = await pool.run('greet', ['x']);
  // @ts-expect-error not an export of the module, nor a kernel
  await pool.run('nope', []);
  await pool.terminate();
}
void tasks;
