// Plain node-http-proxy 1.18 as its README and issue tracker tell a Node user to run it:
// proxy.web(req, res, { target, agent }) with a keep-alive agent, an error handler, and
// proxy.ws for upgrades. Usage: http-proxy-server.mjs <port> <tlsPort> <target> <cert> <key>
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import httpProxy from 'http-proxy';

const [port, tlsPort, target, cert, key] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true, maxSockets: 100 });
const proxy = httpProxy.createProxyServer({});
const options = { target, agent };
proxy.on('error', (_err, _req, res) => {
  // `res` is a socket for a failed WebSocket upgrade.
  if (typeof res.writeHead !== 'function') return res.destroy();
  if (!res.headersSent) res.writeHead(502);
  res.end();
});

const handle = (req, res) => proxy.web(req, res, options);
const upgrade = (req, socket, head) => proxy.ws(req, socket, head, { target });
http.createServer(handle).on('upgrade', upgrade).listen(Number(port), '127.0.0.1');
if (tlsPort && cert && key) {
  https
    .createServer({ cert: readFileSync(cert), key: readFileSync(key) }, handle)
    .on('upgrade', upgrade)
    .listen(Number(tlsPort), '127.0.0.1');
}
