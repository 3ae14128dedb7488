// A minimal Node upstream, for when nginx is missing and for the cut-over scenario
// (one per stack, answering its name). Usage: node-upstream.mjs <port> [body] [host]
import http from 'node:http';

const [port, body = 'ok', host = '0.0.0.0'] = process.argv.slice(2);
const small = Buffer.from(body);
const big = Buffer.alloc(16384, 'x');
const server = http.createServer((req, res) => {
  // Drain a request body (POST scenario) before answering.
  req.resume();
  req.on('end', () => {
    const payload = req.url === '/16k' ? big : small;
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': payload.length });
    res.end(payload);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(port), host);
