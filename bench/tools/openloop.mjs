// Open-loop HTTP load generator for latency under load (issue 6, scenario 6).
// Each target gets requests at a fixed rate; a request's latency runs from the moment it was
// *scheduled* to be sent, not from when it was sent, so time spent queued behind a slow
// response or a late client timer counts (no coordinated omission). Requests go over a
// keep-alive pool per target; when every connection is busy they wait in the pool's queue,
// and that wait counts too.
//
// Usage: node openloop.mjs --rate R --duration S [--warmup S] [--connections N]
//          [--timeout MS] [--header 'Name: value']... NAME=URL [NAME=URL...]
// Prints one JSON object: {rate_per_target, duration_s, targets: {NAME: {sent, ok, errors,
//   non2xx, timeouts, p50_ms, p90_ms, p99_ms, p999_ms, max_ms, dispatch_late_p99_ms}}}.
import http from 'node:http';

function parseArgs(argv) {
  const o = { rate: 200, duration: 10, warmup: 1, connections: 16, timeout: 5000, headers: {},
    targets: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--rate') o.rate = Number(next());
    else if (a === '--duration') o.duration = Number(next());
    else if (a === '--warmup') o.warmup = Number(next());
    else if (a === '--connections') o.connections = Number(next());
    else if (a === '--timeout') o.timeout = Number(next());
    else if (a === '--header') {
      const h = next(); const c = h.indexOf(':');
      o.headers[h.slice(0, c).trim()] = h.slice(c + 1).trim();
    } else {
      const eq = a.indexOf('=');
      if (eq < 1) throw new Error(`unexpected argument ${a}`);
      o.targets.push({ name: a.slice(0, eq), url: new URL(a.slice(eq + 1)) });
    }
  }
  if (!o.targets.length || !(o.rate > 0) || !(o.duration > 0)) {
    throw new Error('usage: openloop.mjs --rate R --duration S [options] NAME=URL...');
  }
  return o;
}

const opts = parseArgs(process.argv.slice(2));
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

function percentile(sorted, p) {
  if (!sorted.length) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

function makeTarget(t) {
  return {
    ...t,
    agent: new http.Agent({ keepAlive: true, maxSockets: opts.connections }),
    lat: [], late: [], sent: 0, ok: 0, non2xx: 0, errors: 0, timeouts: 0, pending: 0,
  };
}

// One request scheduled at `intended` (ms on the hrtime clock); `record` false during warm-up.
function fire(t, intended, record) {
  const dispatched = nowMs();
  if (record) { t.sent++; t.late.push(dispatched - intended); }
  t.pending++;
  let done = false;
  const finish = (kind) => {
    if (done) return;
    done = true;
    t.pending--;
    if (!record) return;
    t.lat.push(nowMs() - intended);
    if (kind === 'ok') t.ok++;
    else if (kind === 'non2xx') t.non2xx++;
    else if (kind === 'timeout') t.timeouts++;
    else t.errors++;
  };
  const req = http.request(t.url, { agent: t.agent, headers: opts.headers }, (res) => {
    res.on('data', () => {});
    res.on('end', () => finish(res.statusCode >= 200 && res.statusCode < 300 ? 'ok' : 'non2xx'));
    res.on('error', () => finish('error'));
  });
  req.setTimeout(opts.timeout, () => { finish('timeout'); req.destroy(); });
  req.on('error', () => finish('error'));
  req.end();
}

async function run() {
  const targets = opts.targets.map(makeTarget);
  const interval = 1000 / opts.rate;
  const start = nowMs();
  const warmEnd = start + opts.warmup * 1000;
  const end = warmEnd + opts.duration * 1000;
  // Targets are offset by a fraction of the interval so their requests do not leave together.
  const next = targets.map((_, k) => start + (k * interval) / targets.length);
  await new Promise((resolve) => {
    const tick = () => {
      const now = nowMs();
      let soonest = Infinity;
      targets.forEach((t, k) => {
        // Every request whose time has come is sent now, even if the timer fired late: the
        // schedule never slips, lateness shows up as latency.
        while (next[k] <= now && next[k] < end) {
          fire(t, next[k], next[k] >= warmEnd);
          next[k] += interval;
        }
        if (next[k] < end) soonest = Math.min(soonest, next[k]);
      });
      if (soonest === Infinity) return resolve();
      setTimeout(tick, Math.max(0, soonest - nowMs()));
    };
    tick();
  });
  // Outstanding requests finish (or time out) before the figures are taken.
  const deadline = nowMs() + opts.timeout + 1000;
  while (targets.some((t) => t.pending > 0) && nowMs() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
  }
  const out = { rate_per_target: opts.rate, duration_s: opts.duration, warmup_s: opts.warmup,
    connections_per_target: opts.connections, targets: {} };
  for (const t of targets) {
    const lat = Float64Array.from(t.lat).sort();
    const late = Float64Array.from(t.late).sort();
    const r3 = (v) => (v === null ? null : Math.round(v * 1000) / 1000);
    out.targets[t.name] = {
      url: t.url.href, sent: t.sent, ok: t.ok, non2xx: t.non2xx, errors: t.errors,
      timeouts: t.timeouts, unfinished: t.sent - t.lat.length,
      achieved_rate: r3(t.lat.length / opts.duration),
      p50_ms: r3(percentile(lat, 50)), p90_ms: r3(percentile(lat, 90)),
      p99_ms: r3(percentile(lat, 99)), p999_ms: r3(percentile(lat, 99.9)),
      max_ms: r3(lat.length ? lat[lat.length - 1] : null),
      dispatch_late_p99_ms: r3(percentile(late, 99)),
      dispatch_late_max_ms: r3(late.length ? late[late.length - 1] : null),
    };
    t.agent.destroy();
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

run().catch((e) => { console.error(e); process.exit(1); });
