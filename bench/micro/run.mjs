// Micro-benchmarks of the hot functions (ns/op). Usage: node bench/micro/run.mjs [filter]
// (npm run bench:micro). Needs dist/ (npm run build). Writes bench/micro/results.md.
import { writeFileSync } from 'node:fs';
import { CASES } from './cases.mjs';
import { machine, measure } from './harness.mjs';

const filter = process.argv[2] ?? '';
const lines = [
  `Machine: ${machine()}. Command: \`node bench/micro/run.mjs${filter ? ` ${filter}` : ''}\`. Median of 5 rounds of ≥ 1 s.`,
  '',
  '| case | ns/op | ops/s |',
  '|---|---:|---:|',
];
for (const [name, fn] of CASES.filter(([name]) => name.includes(filter))) {
  const ns = measure(fn);
  const line = `| ${name} | ${ns.toFixed(1)} | ${Math.round(1e9 / ns).toLocaleString('en-US')} |`;
  console.log(line);
  lines.push(line);
}
writeFileSync(new URL('./results.md', import.meta.url), `${lines.join('\n')}\n`);
