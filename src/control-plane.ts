/**
 * The parts of a switchyard: its state and certificate stores opened, and the control plane
 * (metrics, health checks, rollouts, ACME, the admin API, the event bus's listeners) built
 * around them and the data plane, each part handed the ones it reads. Apart from
 * src/app.ts, which sequences start, reload and stop: nothing here listens or serves.
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { AcmeManager } from './acme/manager.js';
import { adminToken, createAdminServer } from './admin/server.js';
import type { Config } from './config/schema.js';
import type { DataPlane, DataPlaneFactory } from './data-plane.js';
import { EventBus } from './events/bus.js';
import { eventLog } from './events/log.js';
import { webhookListener } from './events/webhooks.js';
import { HealthChecker } from './health/checker.js';
import { singleProcess } from './in-process.js';
import { Metrics } from './metrics/metrics.js';
import { countsFromMetrics } from './rollout/analysis-builtin.js';
import { RolloutRunner } from './rollout/runner.js';
import { type ReloadStep, StateController } from './state/controller.js';
import { FleetStateStore } from './state/etcd/fleet-store.js';
import { createStateStore } from './state/open-store.js';
import { CertificateStore } from './tls/store.js';

/** A switchyard's parts: its state and certificates, and the rest wired to them and to the event bus; none started. */
export interface ControlPlane {
  readonly controller: StateController;
  readonly certificates: CertificateStore;
  /** The fleet's shared state, when `state.store` is etcd. */
  readonly fleet: FleetStateStore | undefined;
  readonly health: HealthChecker;
  /** Rollouts of every service (SPEC §10). */
  readonly rollouts: RolloutRunner;
  /** ACME certificates: orders, renewals, http-01 answers. */
  readonly acme: AcmeManager;
  readonly plane: DataPlane;
  readonly admin: FastifyInstance;
  /** Ends the admin API's `/v1/events` streams. */
  readonly closeEventStream: () => void;
  readonly log: Logger;
}

/** What the parts around the state are built from. */
interface Sources {
  readonly controller: StateController;
  readonly certificates: CertificateStore;
  /** Bearer token of the admin API (see adminToken). */
  readonly token: string | undefined;
  readonly fleet: FleetStateStore | undefined;
  /** Builds the data plane: this process, or worker processes. */
  readonly plane: DataPlaneFactory;
  /** True once a graceful stop began (/healthz turns 503). */
  readonly stopping: () => boolean;
  readonly log: Logger;
}

/**
 * Opens the state and certificate stores the config names and builds the other parts
 * around them, serving clients as `plane` says; throws StartupError / StateFileError with
 * the store closed again and nothing started.
 */
export async function openControlPlane(config: Config, log: Logger, plane: DataPlaneFactory, stopping: () => boolean): Promise<ControlPlane> {
  const token = adminToken(config);
  const events = new EventBus();
  const store = createStateStore(config, log);
  const fleet = store instanceof FleetStateStore ? store : undefined;
  try {
    const controller = await StateController.open(config, store, log, { events });
    const certificates = await CertificateStore.open(config.certs_dir, log, events);
    return { controller, certificates, fleet, log, ...buildParts({ controller, certificates, token, fleet, plane, stopping, log }) };
  } catch (err) {
    await fleet?.close();
    throw err;
  }
}

/** Builds and wires the parts around the state, in the order each needs the ones before it. */
function buildParts(sources: Sources): Omit<ControlPlane, 'controller' | 'certificates' | 'fleet' | 'log'> {
  const { controller, certificates, fleet, stopping, log } = sources;
  const { events, currentConfig: config } = controller;
  // The data plane takes the metrics and ACME's challenges, so it comes after them; these read it once built.
  const websockets = (service: string, stack: string) => plane.websockets.count(service, stack);
  const refresh = () => plane.refreshCounts?.() ?? Promise.resolve();
  const metrics = config.metrics.enabled
    ? new Metrics({
        snapshot: () => controller.snapshot,
        websockets,
        certificates: () => certificates.list(),
        storeConnected: () => fleet?.connected ?? true,
        refresh,
      })
    : undefined;
  const health = new HealthChecker(controller);
  const counts = metrics ? countsFromMetrics(metrics) : undefined;
  // In a fleet one instance drives each rollout: the holder of `<prefix>locks/rollout/<service>`.
  const rollouts = new RolloutRunner({ controller, counts, log, locks: fleet?.leaseLocks('rollout', 'rollout lock') });
  const acme = new AcmeManager({ store: certificates, events, log, certsDir: config.certs_dir, fleet: fleet?.acmeFleet() });
  const plane = sources.plane({ controller, certificates, metrics, challenges: acme.challenges, log });
  const hooks = webhookListener(() => controller.currentConfig.hooks, log, fleet?.origin);
  const onPlane = plane.onEvent;
  for (const listener of [eventLog(log), hooks, ...(onPlane ? [onPlane] : []), ...(metrics ? [metrics.onEvent] : [])]) events.subscribe(listener);
  const defaultCerts = () => plane.defaultCerts();
  const workers = () => plane.workers?.() ?? Promise.resolve(singleProcess(controller, metrics, stopping()));
  const admin = createAdminServer({
    config,
    token: sources.token,
    controller,
    rollouts,
    certificates,
    acme,
    websockets,
    defaultCerts,
    stopping,
    metrics,
    workers,
    fleet,
    log,
  });
  return { health, rollouts, acme, plane, admin: admin.app, closeEventStream: admin.closeEventStream };
}

/** The parts' share of a reload: the data plane binds what is new; the commit makes it live, with ACME's settings and the log level. */
export function reloadStep(parts: ControlPlane, config: Config): ReloadStep {
  const plane = parts.plane.reloadStep(config);
  const commit = () => {
    plane.commit();
    parts.acme.reload(config);
    parts.log.level = config.logging.level;
  };
  return { prepare: () => plane.prepare(), commit };
}
