// WebSocket upstream for scenario (h): accepts upgrades and keeps them open, idle.
// Plain GET answers "ok" so readiness can be probed. Usage: ws-upstream.mjs <port>
import http from 'node:http';
import { WebSocketServer } from 'ws';

const [port] = process.argv.slice(2);
const server = http.createServer((_req, res) => res.end('ok'));
const wss = new WebSocketServer({ server, perMessageDeflate: false });
wss.on('connection', (ws) => ws.on('error', () => {}));
server.listen(Number(port), '127.0.0.1');
