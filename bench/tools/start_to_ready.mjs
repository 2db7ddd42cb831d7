// Start-to-ready time of a server (issue 6, scenario 9a): spawns COMMAND... RUNS times, one after
// the other, and measures from the spawn to the first `GET /health` on PORT that answers 200
// (polled every millisecond over fresh connections); then stops it with SIGTERM and waits for it
// to exit before the next start. The command must listen on 127.0.0.1:PORT.
//
// Usage: node start_to_ready.mjs PORT RUNS COMMAND [ARG...]
// Prints one JSON object: runs_ms (each start), median_ms, max_ms, min_ms.
import { spawn } from 'node:child_process';
import http from 'node:http';

const [portArg, runsArg, cmd, ...args] = process.argv.slice(2);
const port = Number(portArg), runs = Number(runsArg);
if (!(port > 0) || !(runs > 0) || !cmd) {
  console.error('usage: node start_to_ready.mjs PORT RUNS COMMAND [ARG...]');
  process.exit(2);
}

const health = () => new Promise((resolve) => {
  const req = http.get({ host: '127.0.0.1', port, path: '/health', agent: false }, (res) => {
    res.resume();
    res.on('end', () => resolve(res.statusCode === 200));
  });
  req.on('error', () => resolve(false));
  req.setTimeout(1000, () => { req.destroy(); resolve(false); });
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const times = [];
for (let i = 0; i < runs; i++) {
  let exited = null;
  let stderr = '';
  const t0 = performance.now();
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
  const gone = new Promise((r) => child.on('exit', (code, sig) => { exited = { code, sig }; r(); }));
  while (!(await health())) {
    if (exited) {
      console.error(`server exited during start (${JSON.stringify(exited)}):\n${stderr}`);
      process.exit(1);
    }
    if (performance.now() - t0 > 60000) {
      child.kill('SIGKILL');
      console.error('server not ready after 60 s');
      process.exit(1);
    }
    await sleep(1);
  }
  times.push(performance.now() - t0);
  child.kill('SIGTERM');
  await gone;
}
const sorted = [...times].sort((a, b) => a - b);
const mid = sorted.length >> 1;
const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
console.log(JSON.stringify({
  runs: times.length, runs_ms: times.map((t) => +t.toFixed(1)), median_ms: +median.toFixed(1),
  min_ms: +sorted[0].toFixed(1), max_ms: +sorted[sorted.length - 1].toFixed(1),
}));
