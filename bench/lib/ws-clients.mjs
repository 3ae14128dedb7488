// Opens N idle WebSockets to a URL (at most 200 handshakes in flight), prints one JSON
// line { opened, failed, firstErrors }, then holds them until SIGTERM or stdin closes.
// Usage: ws-clients.mjs <url> <count>
import WebSocket from 'ws';

const [url, count] = [process.argv[2], Number(process.argv[3])];
const open = [];
let failed = 0;
const firstErrors = [];

function one() {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: 30_000 });
    ws.once('open', () => {
      open.push(ws);
      resolve();
    });
    ws.once('error', (err) => {
      failed++;
      if (firstErrors.length < 5) firstErrors.push(err.code ?? err.message);
      resolve();
    });
  });
}

let next = 0;
async function worker() {
  while (next < count) {
    next++;
    await one();
  }
}
await Promise.all(Array.from({ length: Math.min(200, count) }, worker));
console.log(JSON.stringify({ opened: open.length, failed, firstErrors }));
const quit = () => process.exit(0);
process.on('SIGTERM', quit);
process.stdin.on('close', quit);
process.stdin.resume();
