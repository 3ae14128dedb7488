// Output of a run: the Markdown table and the SVG chart (hand-written, no dependencies).
import { cpus, totalmem } from 'node:os';

const fmt = (v, digits = 0) => (v === null || v === undefined || Number.isNaN(v) ? '–' : Number(v).toFixed(digits));
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The machine and method line that goes above every table. */
export function machine() {
  return `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${process.platform}`;
}

function notes(r) {
  const out = [];
  if (r.ratio !== undefined && r.ratio !== null) out.push(`large/small ${fmt(r.ratio, 2)}`);
  // A system of several processes: what its main process (switchyard's primary) took of the CPU per request.
  if (r.cpuMainUs !== null && r.cpuMainUs !== undefined && r.cpuUs && r.cpuUs - r.cpuMainUs > 0.05) out.push(`main process ${fmt(r.cpuMainUs, 2)} µs/req`);
  if (r.non2xx) out.push(`${r.non2xx} non-2xx`);
  if (r.socketErrors?.length) out.push(`socket errors: ${r.socketErrors[0]}`);
  return out.join('; ');
}

/** The Markdown report: throughput table, then WebSocket and cut-over tables when run. */
export function markdown({ command, load, upstream, rows, websockets = [], cutover = [], fleet = null, failures = [] }) {
  const lines = [
    `Machine: ${machine()}. Command: \`${command}\`.`,
    `System under test pinned to core 0; ${load} (1 thread, 50 connections) and the ${upstream} upstream on core 1. Runs interleaved, medians shown; RSS after the runs (process and children).`,
    '',
  ];
  if (rows.some((r) => r.scenario.startsWith('e2:')))
    lines.splice(2, 0, 'e2 is loaded by h2load (1 thread, 10 connections × 5 streams; p50/p99 from its per-request log).', '');
  if (rows.length) {
    lines.push(
      '| system | scenario | req/s | p50 ms | p99 ms | CPU µs/req | RSS MiB | × nginx | × http-proxy | × switchyard | notes |',
      '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    );
    for (const r of rows) {
      const peer = (name) => rows.find((o) => o.scenario === r.scenario && o.system === name)?.rps;
      const ratio = (name) => (peer(name) ? fmt(r.rps / peer(name), 2) : '–');
      lines.push(
        `| ${r.system} | ${r.scenario} | ${fmt(r.rps)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${fmt(r.cpuUs, 1)} | ${fmt(r.rssMiB)} | ${ratio('nginx')} | ${ratio('http-proxy')} | ${ratio('switchyard')} | ${notes(r)} |`,
      );
    }
    lines.push('');
  }
  if (websockets.length) {
    lines.push(
      'h: idle WebSockets through each proxy',
      '',
      '| system | open | failed | RSS before MiB | RSS after MiB | KiB per connection | × nginx |',
      '|---|---:|---:|---:|---:|---:|---:|',
    );
    const nginx = websockets.find((w) => w.system === 'nginx')?.perConnKiB;
    for (const w of websockets)
      lines.push(
        `| ${w.system} | ${w.opened} | ${w.failed} | ${fmt(w.rssBefore / 1024)} | ${fmt(w.rssAfter / 1024)} | ${fmt(w.perConnKiB, 1)} | ${nginx ? fmt(w.perConnKiB / nginx, 2) : '–'} |`,
      );
    lines.push('');
  }
  if (cutover.length) {
    lines.push(
      'i: cut-over under load (switch blue ⇄ green every 100 ms)',
      '',
      '| system | req/s | flips | flips/s | flip p99 ms | failed | stale (old stack after ack) | ambiguous (flip in flight) | per worker: answers / stale |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---|',
    );
    for (const c of cutover) {
      const workers = Object.entries(c.perWorker ?? {})
        .map(([id, w]) => `${id}: ${w.answers} / ${w.stale}`)
        .join(', ');
      lines.push(
        `| ${c.system} | ${fmt(c.rps)} | ${c.flips} | ${fmt(c.flipsPerSecond, 1)} | ${fmt(c.flipP99, 1)} | ${c.failed} | ${c.stale} | ${c.ambiguous} | ${workers} |`,
      );
    }
    lines.push('');
  }
  if (fleet?.propagation) {
    const p = fleet.propagation;
    lines.push(
      `j: fleet on one etcd: ${p.instances} switchyard processes, ${p.flips} flips through A; from A's acknowledgement to the first answer from the new stack on each instance`,
      '',
      '| answers | p50 ms | p99 ms | max ms | p50 / p99 per instance (A first: it applied the flip before acknowledging, so its figures are the polling floor) ms |',
      '|---:|---:|---:|---:|---|',
      `| ${p.flips * p.instances} | ${fmt(p.p50, 1)} | ${fmt(p.p99, 1)} | ${fmt(p.max, 1)} | ${p.perInstanceP99.map((v, i) => `${fmt(p.perInstanceP50?.[i], 1)} / ${fmt(v, 1)}`).join(', ')} |`,
      '',
    );
  }
  if (fleet?.outages?.length) {
    lines.push(
      'j: etcd outage under light traffic on every instance (then etcd back)',
      '',
      '| etcd | requests | failed | all report store_connected 0 after ms | refused mutation | its answer took ms | kept serving | mutation accepted after ms | all serve it after ms |',
      '|---|---:|---:|---:|---|---:|---|---:|---:|',
    );
    for (const o of fleet.outages)
      lines.push(
        `| ${o.kind === 'kill' ? 'SIGKILL, restarted' : 'SIGSTOP, SIGCONT'} | ${o.requests} | ${o.failed} | ${fmt(o.detectedMs)} | ${o.refusedStatus} ${o.refusedCode ?? ''} | ${fmt(o.refusedMs)} | ${o.stillServing ? 'yes' : 'no'} | ${fmt(o.acceptedMs)} | ${fmt(o.caughtUpMs)} |`,
      );
    lines.push('');
  }
  for (const f of failures) lines.push(`- ${f.system}: failed — ${f.error.split('\n')[0]}`);
  return `${lines.join('\n')}\n`;
}

/** Bar chart: req/s (left) and p99 (right) per system, grouped by scenario, scaled per scenario. */
export function svg(rows) {
  const rowH = 20;
  const barW = 260;
  const labelW = 190;
  const width = labelW + 2 * (barW + 110) + 10;
  const parts = [];
  let y = 40;
  for (const scenario of [...new Set(rows.map((r) => r.scenario))]) {
    const group = rows.filter((r) => r.scenario === scenario);
    const maxRps = Math.max(...group.map((r) => r.rps || 0), 1);
    const maxP99 = Math.max(...group.map((r) => r.p99 || 0), 0.001);
    parts.push(`<text x="10" y="${y + 12}" font-size="13" font-weight="bold">${esc(scenario)}</text>`);
    y += rowH;
    for (const r of group) {
      const w1 = Math.round(((r.rps || 0) / maxRps) * barW);
      const w2 = Math.round(((r.p99 || 0) / maxP99) * barW);
      const x2 = labelW + barW + 110;
      parts.push(
        `<text x="20" y="${y + 13}" font-size="12">${esc(r.system)}</text>`,
        `<rect x="${labelW}" y="${y + 3}" width="${w1}" height="13" fill="#3b7dd8"/><text x="${labelW + w1 + 5}" y="${y + 14}" font-size="11">${fmt(r.rps)}</text>`,
        `<rect x="${x2}" y="${y + 3}" width="${w2}" height="13" fill="#e08a2c"/><text x="${x2 + w2 + 5}" y="${y + 14}" font-size="11">${fmt(r.p99, 2)} ms</text>`,
      );
      y += rowH;
    }
    y += 8;
  }
  const head =
    `<text x="10" y="18" font-size="14">switchyard benchmark — ${esc(machine())}</text>` +
    `<text x="${labelW}" y="34" font-size="12" fill="#3b7dd8">req/s (median, higher is better)</text>` +
    `<text x="${labelW + barW + 110}" y="34" font-size="12" fill="#e08a2c">p99 latency (lower is better)</text>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y + 10}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>${head}${parts.join('')}</svg>\n`;
}
