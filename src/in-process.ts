import type { WorkersView } from './admin/routes/workers.js';
import type { DataPlaneFactory } from './data-plane.js';
import type { Metrics } from './metrics/metrics.js';
import { NOOP_METER } from './pool/stack-meter.js';
import { DataPath } from './proxy/data-path.js';
import type { StateController } from './state/controller.js';

/** The request path in this process (`workers: 0`, and switchyard embedded in tests). */
export const inProcess: DataPlaneFactory = ({ controller, certificates, metrics, challenges, log }) => {
  if (metrics) controller.useMeters((service, stack) => metrics.meterFor(service, stack));
  const unmatched = metrics?.meterFor('_unmatched', 'none') ?? NOOP_METER;
  const responseHeaders = controller.currentConfig.debug.worker_header ? ['X-Switchyard-Worker', '0'] : undefined;
  return new DataPath({ controller, certificates, unmatched, challenges, responseHeaders, log });
};

/** `GET /v1/workers` of a single process: itself. */
export function singleProcess(controller: StateController, metrics: Metrics | undefined, stopping: boolean): WorkersView {
  const requests = metrics ? metrics.counters.responses() : null;
  const self = { id: 0, pid: process.pid, state: stopping ? 'stopping' : 'ready', generation: controller.snapshot.generation, requests, restarts: 0 } as const;
  return { mode: 'single', workers: [{ ...self, uptime_seconds: Math.round(process.uptime()) }] };
}
