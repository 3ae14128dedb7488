import type { FastifyInstance } from 'fastify';
import type { FleetMember } from '../../state/etcd/records.js';

/**
 * Registers GET /v1/fleet: the live members of the fleet as they registered in etcd (id,
 * admin address, the store revision each serves, last heartbeat). With the state file
 * there is no fleet: the list is empty. 503 STORE_UNAVAILABLE while etcd does not answer.
 */
export function registerFleetRoute(app: FastifyInstance, fleet: { members(): Promise<FleetMember[]> } | undefined): void {
  app.get('/v1/fleet', async () => {
    if (!fleet) return { store: 'file', members: [] };
    const members = await fleet.members();
    return { store: 'etcd', members: members.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)) };
  });
}
