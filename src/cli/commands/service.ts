import type { Command } from 'commander';
import type { WorkersView } from '../../admin/routes/workers.js';
import type { AdminClient } from '../admin-client.js';
import { runCall, UsageError } from '../run.js';

interface ServiceJson {
  name: string;
  generation: number;
  active: string;
  weights: Record<string, number>;
  stacks: Record<string, { weight: number; healthy_targets: number; targets: { address: string; healthy: boolean; available: boolean }[] }>;
}

interface FleetMemberJson {
  id: string;
  address: string;
  generation: number;
  last_seen: string;
}

/** Human form of a service for `status`. */
export function formatService(service: ServiceJson): string {
  const lines = [`${service.name}  active=${service.active}  generation=${service.generation}`];
  for (const [name, stack] of Object.entries(service.stacks)) {
    lines.push(`  ${name.padEnd(10)} weight=${String(stack.weight).padEnd(4)} healthy=${stack.healthy_targets}/${stack.targets.length}`);
    for (const t of stack.targets) lines.push(`    ${t.address}  ${t.available ? 'up' : t.healthy ? 'ejected' : 'down'}`);
  }
  return lines.join('\n');
}

/** Human form of `GET /v1/workers` for `status`. */
export function formatWorkers(view: WorkersView): string {
  const line = (w: WorkersView['workers'][number]) =>
    `pid ${w.pid}  ${w.state}  generation=${w.generation}  requests=${w.requests ?? '-'}  up ${w.uptime_seconds}s`;
  if (view.mode === 'single') return view.workers.map((w) => `process  ${line(w)}  (workers: 0, one process)`).join('\n');
  const lines = [`workers: ${view.workers.length} (scheduling ${view.scheduling ?? '?'})`];
  for (const w of view.workers) lines.push(`  worker ${String(w.id).padEnd(3)} ${line(w)}  restarts=${w.restarts}`);
  return lines.join('\n');
}

/** Parses `blue=90 green=10`. */
export function parseWeights(pairs: readonly string[]): Record<string, number> {
  const weights: Record<string, number> = {};
  for (const pair of pairs) {
    const match = /^([A-Za-z0-9_-]+)=(\d+)$/.exec(pair);
    if (!match) throw new UsageError(`weights are stack=integer, got "${pair}"`);
    weights[match[1] as string] = Number(match[2]);
  }
  return weights;
}

/** `--wait-all`: the call answers once every live fleet instance serves the change (504 naming the laggards otherwise). */
const WAIT_ALL = ['--wait-all', 'wait until every live fleet instance serves the change (state.store: etcd)'] as const;

function mutationPath(path: string, opts: { waitAll?: boolean }): string {
  return opts.waitAll ? `${path}?wait=all` : path;
}

const done = (service: ServiceJson) => `${service.name}: active=${service.active} weights=${JSON.stringify(service.weights)} generation=${service.generation}`;

/** status, switch, weights, rollback, targets. */
export function registerServiceCommands(program: Command, client: () => AdminClient): void {
  program
    .command('status [service]')
    .description('show services, stacks, weights and target health, and the worker processes')
    .option('--json', 'print the API JSON')
    .action((service: string | undefined, opts: { json?: boolean }) =>
      runCall(async () => {
        if (service) {
          const one = await client().call<ServiceJson>('GET', `/v1/services/${encodeURIComponent(service)}`);
          return opts.json ? JSON.stringify(one, null, 2) : formatService(one);
        }
        const all = await client().call<{ services: ServiceJson[] }>('GET', '/v1/services');
        // An admin API without /v1/workers (an older switchyard) still gets its services shown.
        const workers = await client()
          .call<WorkersView>('GET', '/v1/workers')
          .catch(() => undefined);
        if (opts.json) return JSON.stringify(workers ? { ...all, workers } : all, null, 2);
        return [...all.services.map(formatService), ...(workers ? [formatWorkers(workers)] : [])].join('\n');
      }),
    );
  program
    .command('switch <service> <stack>')
    .description('send all traffic of a service to one stack')
    .option('--force', 'switch even when the stack has no healthy target')
    .option('--reason <text>', 'recorded in history')
    .option(...WAIT_ALL)
    .action((service: string, stack: string, opts: { force?: boolean; reason?: string; waitAll?: boolean }) =>
      runCall(async () =>
        done(
          await client().call<ServiceJson>('POST', mutationPath(`/v1/services/${encodeURIComponent(service)}/switch`, opts), {
            to: stack,
            ...(opts.force ? { force: true } : {}),
            ...(opts.reason ? { reason: opts.reason } : {}),
          }),
        ),
      ),
    );
  program
    .command('weights <service> <pairs...>')
    .description('split traffic, e.g. weights demo blue=90 green=10')
    .option('--force', 'even when a stack given weight has no healthy target')
    .option(...WAIT_ALL)
    .action((service: string, pairs: string[], opts: { force?: boolean; waitAll?: boolean }) =>
      runCall(async () =>
        done(
          await client().call<ServiceJson>('PUT', mutationPath(`/v1/services/${encodeURIComponent(service)}/weights`, opts), {
            weights: parseWeights(pairs),
            ...(opts.force ? { force: true } : {}),
          }),
        ),
      ),
    );
  program
    .command('rollback <service>')
    .description('back to the weights before the last change')
    .option(...WAIT_ALL)
    .action((service: string, opts: { waitAll?: boolean }) =>
      runCall(async () => done(await client().call<ServiceJson>('POST', mutationPath(`/v1/services/${encodeURIComponent(service)}/rollback`, opts), {}))),
    );
  program
    .command('targets <service> <stack> <targets...>')
    .description("replace a stack's targets (host:port …)")
    .option(...WAIT_ALL)
    .action((service: string, stack: string, targets: string[], opts: { waitAll?: boolean }) =>
      runCall(async () =>
        done(
          await client().call<ServiceJson>(
            'PUT',
            mutationPath(`/v1/services/${encodeURIComponent(service)}/stacks/${encodeURIComponent(stack)}/targets`, opts),
            { targets },
          ),
        ),
      ),
    );
  program
    .command('fleet')
    .description('list the live fleet instances sharing this state (state.store: etcd)')
    .option('--json', 'print the API JSON')
    .action((opts: { json?: boolean }) =>
      runCall(async () => {
        const fleet = await client().call<{ store: string; members: FleetMemberJson[] }>('GET', '/v1/fleet');
        if (opts.json) return JSON.stringify(fleet, null, 2);
        if (fleet.members.length === 0) return `no fleet (state.store: ${fleet.store})`;
        return fleet.members.map((m) => `${m.id}  ${m.address}  generation=${m.generation}  last_seen=${m.last_seen}`).join('\n');
      }),
    );
}
