// TLS handshakes per second with a given SNI name: `concurrency` loops of connect →
// handshake → close for `seconds`; checks the certificate served names the SNI host.
// Prints one JSON line. Usage: tls-handshakes.mjs <port> <servername> <seconds> [concurrency]
import { connect } from 'node:tls';

const [port, servername, seconds, concurrency = '20'] = process.argv.slice(2);
const until = performance.now() + Number(seconds) * 1000;
const latencies = [];
let wrongCert = 0;
let errors = 0;

function handshake() {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = connect({ host: '127.0.0.1', port: Number(port), servername, rejectUnauthorized: false, session: undefined }, () => {
      latencies.push(performance.now() - started);
      if (socket.getPeerCertificate().subject?.CN !== servername) wrongCert++;
      socket.destroy();
      resolve();
    });
    socket.on('error', () => {
      errors++;
      resolve();
    });
  });
}

const t0 = performance.now();
await Promise.all(
  Array.from({ length: Number(concurrency) }, async () => {
    while (performance.now() < until) await handshake();
  }),
);
latencies.sort((a, b) => a - b);
const pick = (q) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))] ?? null;
console.log(
  JSON.stringify({ rps: latencies.length / ((performance.now() - t0) / 1000), p50: pick(0.5), p99: pick(0.99), requests: latencies.length, wrongCert, errors }),
);
