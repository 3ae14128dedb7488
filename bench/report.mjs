// Markdown table and SVG chart of a run.
import { cpus } from 'node:os';

const fmt = (v, digits = 0) => (v === null || v === undefined ? '–' : Number(v).toFixed(digits));

/** The Markdown table: medians, RSS, and ratios to nginx and http-proxy in the same scenario. */
export function markdown(results, command) {
  const lines = [
    `Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}. Command: \`${command}\`.`,
    'Each system pinned to core 0, wrk (1 thread) to core 1; runs interleaved, medians shown.',
    '',
    '| scenario | system | req/s | p50 ms | p99 ms | RSS MiB | × nginx | × http-proxy |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of results) {
    const peer = (name) => results.find((o) => o.scenario === r.scenario && o.system === name)?.rps;
    const ratio = (name) => (peer(name) ? fmt(r.rps / peer(name), 2) : '–');
    lines.push(`| ${r.scenario} | ${r.system} | ${fmt(r.rps)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${fmt(r.rss)} | ${ratio('nginx')} | ${ratio('http-proxy')} |`);
  }
  return lines.join('\n') + '\n';
}

/** A bar chart of req/s (and p99 as text) per system and scenario. */
export function svg(results) {
  const rowH = 22;
  const width = 760;
  const max = Math.max(...results.map((r) => r.rps || 0), 1);
  const rows = results.map((r, i) => {
    const w = Math.round(((r.rps || 0) / max) * 420);
    const y = 30 + i * rowH;
    return `<text x="10" y="${y + 14}" font-size="12">${r.scenario} · ${r.system}</text><rect x="230" y="${y + 3}" width="${w}" height="14" fill="#3b7dd8"/><text x="${236 + w}" y="${y + 14}" font-size="11">${fmt(r.rps)} req/s · p99 ${fmt(r.p99, 2)} ms</text>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${40 + results.length * rowH}" font-family="sans-serif"><text x="10" y="18" font-size="14">switchyard benchmark (median req/s)</text>${rows.join('')}</svg>\n`;
}
