import type { Command } from 'commander';
import { describeStep, type RolloutStep } from '../../config/delivery-schema.js';
import { parseDuration } from '../../config/duration.js';
import { AdminCallError, type AdminClient } from '../admin-client.js';
import { EXIT, runCall, UsageError } from '../run.js';

/** The rollout JSON the API answers (the part the CLI prints). */
export interface RolloutJson {
  service: string;
  from: string;
  to: string;
  state: 'running' | 'paused' | 'completed' | 'aborted';
  step: number;
  steps: RolloutStep[];
  weights: Record<string, number>;
  analysis: Record<string, unknown> | null;
  reason: string | null;
  pause: { until: string | null; remaining_ms: number } | null;
}

/** `1m12s`, `45s`: what is left of a pause. */
function left(ms: number): string {
  const s = Math.ceil(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

function analysisText(a: Record<string, unknown>): string {
  if (typeof a.gate === 'string') return `gate ${a.gate}: ${String(a.summary ?? '')}`;
  const parts: string[] = [];
  if (typeof a.error_rate === 'number') parts.push(`error rate ${Number(a.error_rate.toFixed(4))}`);
  if (typeof a.requests === 'number') parts.push(`${a.requests} req`);
  if (typeof a.p99_ms === 'number') parts.push(`p99 ${Math.round(a.p99_ms)}ms`);
  if (typeof a.value === 'number') parts.push(`value ${a.value}`);
  if (parts.length === 0) parts.push(String(a.verdict ?? ''));
  const counts = typeof a.count === 'number' ? `, ${String(a.passes)}/${a.count} passed, ${String(a.failures)}/${String(a.failure_limit)} failed` : '';
  return `${parts.join(', ')}${counts}`;
}

/**
 * One progress line: state, step, weights, the last analysis figures and the time left
 * in a pause, e.g. `web → green: running  step 2/5 pause 2m (1m12s left)  blue=90 green=10`.
 * `steady` is the same line without the countdown (a non-terminal prints it when it changes).
 */
export function formatRollout(r: RolloutJson): { line: string; steady: string } {
  const weights = Object.entries(r.weights)
    .map(([stack, w]) => `${stack}=${w}`)
    .join(' ');
  const parts = [`${r.service} → ${r.to}: ${r.state}`, `step ${r.step + 1}/${r.steps.length} ${describeStep(r.steps[r.step])}`, weights];
  if (r.analysis !== null && r.state !== 'completed') parts.push(`analysis: ${analysisText(r.analysis)}`);
  // The figures already say what a failed measurement found; other reasons (holding, waiting, aborted) add to them.
  if (r.reason !== null && r.reason !== 'completed' && !r.reason.startsWith('failure ')) parts.push(r.reason);
  const steady = parts.join('  ');
  if (r.pause === null || (r.state !== 'running' && r.state !== 'paused')) return { line: steady, steady };
  parts[1] = `${parts[1]} (${left(r.pause.remaining_ms)} left${r.state === 'paused' ? ', held' : ''})`;
  return { line: parts.join('  '), steady };
}

/** The steps of `rollout start --steps 10,50,100 [--pause 2m] [--analysis]`: each weight, then the pause and the analysis below 100. */
export function buildSteps(weights: string, pause: string | undefined, analysis: boolean): RolloutStep[] {
  if (pause !== undefined && parseDuration(pause) === undefined) throw new UsageError(`--pause must be a duration such as 2m, got "${pause}"`);
  const steps: RolloutStep[] = [];
  for (const item of weights.split(',')) {
    const weight = Number(item.trim());
    if (!/^\d+$/.test(item.trim()) || weight > 100) throw new UsageError(`--steps takes weights 0-100 separated by commas, got "${item}"`);
    steps.push({ weight });
    if (weight < 100 && pause !== undefined) steps.push({ pause });
    if (weight < 100 && analysis) steps.push({ analysis: 'default' });
  }
  return steps;
}

const path = (service: string, tail = '') => `/v1/services/${encodeURIComponent(service)}/rollout${tail}`;

/** Polls the rollout until it completes (exit 0) or aborts (exit 1), printing a live progress line. */
async function watch(client: AdminClient, service: string, every: number): Promise<void> {
  const tty = process.stdout.isTTY === true;
  let last = '';
  let failingSince: number | undefined;
  for (;;) {
    let rollout: RolloutJson;
    try {
      rollout = await client.call<RolloutJson>('GET', path(service));
      failingSince = undefined;
    } catch (err) {
      // A restart of switchyard (the rollout resumes) must not end the watch: only a long outage does.
      if (!(err instanceof AdminCallError) || err.code !== 'UNREACHABLE') throw err;
      failingSince ??= Date.now();
      if (Date.now() - failingSince > 30_000) throw err;
      await new Promise((r) => setTimeout(r, every));
      continue;
    }
    const { line, steady } = formatRollout(rollout);
    const finished = rollout.state === 'completed' || rollout.state === 'aborted';
    if (tty) process.stdout.write(`\r\x1b[K${line}${finished ? '\n' : ''}`);
    else if (steady !== last) process.stdout.write(`${line}\n`);
    last = steady;
    if (finished) {
      process.exitCode = rollout.state === 'completed' ? EXIT.ok : EXIT.failed;
      return;
    }
    await new Promise((r) => setTimeout(r, every));
  }
}

/** `rollout start|status|promote|pause|resume|abort` (SPEC §10). */
export function registerRolloutCommands(program: Command, client: () => AdminClient): void {
  const rollout = program.command('rollout').description('progressive delivery: automated canary rollouts');
  rollout
    .command('start <service> <stack>')
    .description('start a rollout to <stack> (steps from --steps, else the service config, else 10,analysis,50,analysis,100)')
    .option('--steps <weights>', 'weights of the new stack, e.g. 10,50,100')
    .option('--pause <duration>', 'pause after each weight below 100, e.g. 2m')
    .option('--analysis', 'run the service analysis after each weight below 100')
    .action((service: string, stack: string, opts: { steps?: string; pause?: string; analysis?: boolean }) =>
      runCall(async () => {
        const custom = opts.steps !== undefined || opts.pause !== undefined || opts.analysis === true;
        const steps = custom ? buildSteps(opts.steps ?? '10,50,100', opts.pause, opts.analysis === true) : undefined;
        const started = await client().call<RolloutJson>('POST', `/v1/services/${encodeURIComponent(service)}/rollouts`, {
          to: stack,
          ...(steps ? { steps } : {}),
        });
        return formatRollout(started).line;
      }),
    );
  rollout
    .command('status <service>')
    .description('show the rollout; --watch follows it until it completes (exit 0) or aborts (exit 1)')
    .option('--watch', 'print a live progress line until the rollout ends')
    .option('--json', 'print the API JSON')
    .option('--interval <duration>', 'how often --watch asks', '1s')
    .action((service: string, opts: { watch?: boolean; json?: boolean; interval: string }) =>
      runCall(async () => {
        const every = parseDuration(opts.interval);
        if (every === undefined || every < 50) throw new UsageError(`--interval must be a duration of at least 50ms, got "${opts.interval}"`);
        if (opts.watch) {
          await watch(client(), service, every);
          return '';
        }
        const current = await client().call<RolloutJson>('GET', path(service));
        return opts.json ? JSON.stringify(current, null, 2) : formatRollout(current).line;
      }),
    );
  rollout
    .command('promote <service>')
    .description('skip the current pause, analysis or gate (--full: 100 % now)')
    .option('--full', 'give the new stack 100 % at once and complete')
    .action((service: string, opts: { full?: boolean }) =>
      runCall(async () => formatRollout(await client().call<RolloutJson>('POST', path(service, '/promote'), opts.full ? { full: true } : {})).line),
    );
  for (const [name, what] of [
    ['pause', 'hold the rollout where it is'],
    ['resume', 'go on after pause (at a pause-until-promoted step: go on to the next step)'],
  ] as const) {
    rollout
      .command(`${name} <service>`)
      .description(what)
      .action((service: string) => runCall(async () => formatRollout(await client().call<RolloutJson>('POST', path(service, `/${name}`), {})).line));
  }
  rollout
    .command('abort <service>')
    .description('stop the rollout: all traffic back to the stable stack at once')
    .option('--reason <text>', 'recorded in history')
    .action((service: string, opts: { reason?: string }) =>
      runCall(async () => formatRollout(await client().call<RolloutJson>('POST', path(service, '/abort'), opts.reason ? { reason: opts.reason } : {})).line),
    );
}
