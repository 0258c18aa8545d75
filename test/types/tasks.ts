// A task module, as a program writes one (compiled, never run).
import { cancelled } from 'penny/task';

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
