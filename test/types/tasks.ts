// A task module, as a program writes one (compiled, never run).
import {
  cancelled, join, spawn, sync, parallelFor,
} from 'penny/task';

export function add(a: number, b: number): number {
  return a + b;
}

export async function greet(name: string): Promise<string> {
  return `hello ${name}`;
}

export function scale(v: Float64Array, k: number): void {
  for (let i = 0; i < v.length && !cancelled(); i++) v[i] *= k;
}

export function now(): number {
  return Date.now();
}

export function fib(n: number): number {
  if (n < 2) return n;
  const [a, b]: [number, number] = join(fib, [n - 1], fib, [n - 2]);
  const h = spawn(fib, [n - 3]);
  const c: number = sync(h);
  return a + b + c - c;
}

export function rows(lo: number, hi: number, image: Float64Array): void {
  for (let y = lo; y < hi; y++) image[y] = y;
}

export function render(image: Float64Array): void {
  parallelFor(rows, 0, image.length, 0, [image]);
  // @ts-expect-error: the arguments do not match rows'
  parallelFor(rows, 0, image.length, 0, ['not a view']);
  // @ts-expect-error: join's argument lists must match the functions
  join(fib, ['x'], fib, [1]);
}
