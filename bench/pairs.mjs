// Per-run ratios of two systems from bench/results/<time>.json files. Runs are interleaved,
// so sample i of each system is adjacent in time: the ratio of a pair cancels most of the
// drift of a shared machine. Usage:
//   node bench/pairs.mjs [--base switchyard] [--other http-proxy] results/<time>.json…
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { median } from './lib/load.mjs';

const { values: opts, positionals: files } = parseArgs({
  options: { base: { type: 'string', default: 'switchyard' }, other: { type: 'string', default: 'http-proxy' } },
  allowPositionals: true,
});
const fmt = (v, digits = 0) => (v === null || v === undefined || Number.isNaN(v) ? '–' : v.toFixed(digits));
/** Per scenario, over every file: the per-pair ratios other ÷ base of req/s and of CPU µs/req. */
const pooled = new Map();
for (const file of files) {
  const { rows } = JSON.parse(readFileSync(file, 'utf8'));
  for (const base of rows.filter((r) => r.system === opts.base)) {
    const other = rows.find((r) => r.scenario === base.scenario && r.system === opts.other);
    if (!other) continue;
    const entry = pooled.get(base.scenario) ?? { rps: [], cpu: [], worse: 0 };
    pooled.set(base.scenario, entry);
    for (let i = 0; i < Math.min(base.samples.length, other.samples.length); i++) {
      const b = base.samples[i];
      const o = other.samples[i];
      entry.rps.push(o.rps / b.rps);
      if (b.cpuUs && o.cpuUs) {
        entry.cpu.push(o.cpuUs / b.cpuUs);
        if (o.cpuUs > b.cpuUs) entry.worse++;
      }
    }
  }
}
console.log(
  `| scenario | pairs | req/s ${opts.other} ÷ ${opts.base} (median) | CPU µs/req ${opts.other} ÷ ${opts.base} (median) | pairs where ${opts.other} used more CPU |`,
);
console.log('|---|---:|---:|---:|---:|');
for (const [scenario, e] of pooled)
  console.log(`| ${scenario} | ${e.rps.length} | ${fmt(median(e.rps), 3)} | ${fmt(median(e.cpu), 3)} | ${e.worse} of ${e.cpu.length} |`);
