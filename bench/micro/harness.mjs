// A tiny ns/op harness in the manner of undici's and ws's micro-benchmarks: warm up, then
// time batches until a second has passed, five times; report the median.
import { cpus } from 'node:os';

/** Keeps results alive so the JIT cannot drop the measured call. */
export let sink;

function timeBatch(fn, iterations) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) sink = fn(i);
  return Number(process.hrtime.bigint() - start);
}

/** Median ns per call of `fn` over five rounds of at least `ms` each. */
export function measure(fn, { warmup = 200_000, rounds = 5, ms = 1000 } = {}) {
  timeBatch(fn, warmup);
  const results = [];
  for (let r = 0; r < rounds; r++) {
    let ns = 0;
    let calls = 0;
    let batch = 10_000;
    while (ns < ms * 1e6) {
      ns += timeBatch(fn, batch);
      calls += batch;
      batch = Math.min(batch * 2, 2_000_000);
    }
    results.push(ns / calls);
  }
  results.sort((a, b) => a - b);
  return results[Math.floor(rounds / 2)];
}

export function machine() {
  return `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`;
}
