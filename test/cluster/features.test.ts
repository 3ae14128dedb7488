import { describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { defer } from '../helpers/cleanup.js';
import { waitFor } from '../helpers/switchyard.js';
import { startUpstream } from '../helpers/upstream.js';
import { fetchAnswer, startCluster, untilBothWorkers } from './support.js';

describe('workers: WebSockets, sticky cookies and failover', () => {
  it('drains WebSockets on every worker after a switch, keeps sticky clients on their stack and fails over, whichever worker serves', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((r) => wss.once('listening', r));
    defer(() => wss.close());
    wss.on('connection', (ws) => ws.on('message', (m) => ws.send(`echo ${m.toString()}`)));
    const socketTarget = `127.0.0.1:${(wss.address() as { port: number }).port}`;
    const blue = await startUpstream('blue');
    const green = await startUpstream('green');
    const dead = await startUpstream('dead');
    await dead.close();
    const services = [
      `  - name: ws\n    hosts: [ws.test]\n    websocket_drain: 300\n    stacks: { blue: { targets: ["${socketTarget}"] }, green: { targets: ["${green.address}"] } }\n`,
      `  - name: web\n    hosts: [web.test]\n    sticky: cookie\n    stacks: { blue: { targets: ["${blue.address}"] }, green: { targets: ["${green.address}"] } }\n`,
      `  - name: fo\n    hosts: [fo.test]\n    failover: true\n    health_check: { path: /health, interval: 1s, response_timeout: 500 }\n    stacks: { blue: { targets: ["${dead.address}"] }, green: { targets: ["${green.address}"] } }\n`,
    ].join('');
    const sy = await startCluster(services);

    // WebSockets on whichever workers accept them; the primary's gauge sums the workers' reports.
    const clients = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const client = new WebSocket(`ws://127.0.0.1:${sy.proxyPort}/`, { headers: { host: 'ws.test' } });
        const closed = new Promise<number>((r) => client.once('close', (code) => r(code)));
        await new Promise((r) => client.once('open', r));
        return { client, closed };
      }),
    );
    const gauge = async () => {
      const page = await (await fetch(`${sy.adminUrl}/metrics`)).text();
      return Number(/switchyard_websocket_connections\{service="ws",stack="blue"\} (\d+)/.exec(page)?.[1] ?? -1);
    };
    await waitFor(async () => (await gauge()) === 6, 5000, 'six open WebSockets in the gauge');
    expect((await sy.call('POST', '/v1/services/ws/switch', { to: 'green' })).status).toBe(200);
    // Open until the drain time has passed, then closed with 1001 by the worker holding each.
    clients[0]?.client.send('still');
    expect(String(await new Promise((r) => clients[0]?.client.once('message', r)))).toBe('echo still');
    expect(await Promise.all(clients.map((c) => c.closed))).toEqual(clients.map(() => 1001));
    await waitFor(async () => (await gauge()) === 0, 5000, 'no open WebSocket in the gauge');

    // Sticky: with weights split, a client whose cookie names green gets green from every worker.
    expect((await sy.call('PUT', '/v1/services/web/weights', { weights: { blue: 50, green: 50 } })).status).toBe(200);
    const sticky = await untilBothWorkers(() => fetchAnswer(sy.proxyPort, false, '/', { host: 'web.test', cookie: 'switchyard.web=green' }), 10);
    expect(sticky.map((a) => a.body)).toEqual(sticky.map(() => 'green'));

    // Failover: the primary's health check found the active stack down; every worker serves the other one.
    const failover = await untilBothWorkers(() => fetchAnswer(sy.proxyPort, false, '/', { host: 'fo.test' }), 4);
    expect(failover.map((a) => `${a.status}:${a.body}`)).toEqual(failover.map(() => '200:green'));
  });
});
