// Load client for scenario S7 (bench/scenarios/70-websocket.sh): many authenticated /ws/events
// connections, the server's memory per connection, and how fast one file event fans out.
//
// Usage: node ws-fanout.js   (configuration from the environment, see `cfg` below)
// Prints one JSON object on stdout; progress on stderr.
//
// Phases:
//  1. the owner uploads a small file and shares it with every sharee (before any stream is open,
//     so the setup's own share events do not flood the streams);
//  2. VmRSS of the server ("before");
//  3. opens one stream per sharee plus bystander streams (users the file is not shared with) up to
//     the connection count, waits until the server's /health counts them all as live subscribers,
//     lets them settle, reads VmRSS again ("after") and the kernel's socket memory;
//  4. the owner replaces the file (PUT with If-Match) `rounds` times; each time the file.updated
//     event must reach every sharee's stream. Latency per sharee = its stream's receipt of the
//     event minus the moment the PUT was sent (and, reported too, minus the moment its response
//     arrived). Bystander streams must receive nothing about the file.
'use strict';
const fs = require('fs');
const http = require('http');
const WebSocket = require('ws');

const env = process.env;
const cfg = {
  url: env.WS_URL,                                   // http://127.0.0.1:PORT
  ownerKey: env.WS_OWNER_KEY,
  serverPid: Number(env.WS_SERVER_PID),
  keysFile: env.WS_KEYS,                             // lines "NAME KEY ROLE" (ROLE sharee|bystander)
  connections: Number(env.WS_CONNECTIONS || 10000),  // total streams
  rounds: Number(env.WS_ROUNDS || 5),
  settleMs: Number(env.WS_SETTLE_MS || 3000),
  openConcurrency: Number(env.WS_OPEN_CONCURRENCY || 256),
  eventTimeoutMs: Number(env.WS_EVENT_TIMEOUT_MS || 10000),
};
for (const k of ['url', 'ownerKey', 'keysFile']) if (!cfg[k]) throw new Error(`missing ${k}`);

const log = (...a) => console.error('ws-fanout:', ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

function request(method, path, { key, body, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(path, cfg.url);
    const h = { ...headers };
    if (key) h.Authorization = `Bearer ${key}`;
    if (body !== undefined) h['Content-Length'] = Buffer.byteLength(body);
    const req = http.request(u, { method, headers: h, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers,
        text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function vmRssKib(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]);
}
// Kernel socket memory is charged to neither process's RSS: TCP "mem" in pages, both ends.
function sockstat() {
  const s = fs.readFileSync('/proc/net/sockstat', 'utf8');
  const m = /TCP: inuse (\d+) orphan \d+ tw \d+ alloc (\d+) mem (\d+)/.exec(s);
  return { tcp_inuse: Number(m[1]), tcp_alloc: Number(m[2]), tcp_mem_pages: Number(m[3]) };
}
// CPU time (ms) of each of the server's threads, to tell which one a fan-out keeps busy.
function threadCpuMs(pid) {
  const out = {};
  const tick = 1000 / 100;  // USER_HZ
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const st = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      out[tid] = (Number(f[11]) + Number(f[12])) * tick;  // utime + stime
    } catch { /* thread ended */ }
  }
  return out;
}
function busiestThreads(before, after, n = 3) {
  return Object.keys(after).map((t) => after[t] - (before[t] || 0)).sort((a, b) => b - a).slice(0, n);
}
async function liveSubscribers() {
  const r = await request('GET', '/health');
  return JSON.parse(r.text).live_subscribers;
}

async function pool(items, concurrency, fn) {
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  });
  await Promise.all(workers);
}

const pct = (sorted, p) => sorted.length === 0 ? null
  : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
const round3 = (v) => v === null ? null : Math.round(v * 1000) / 1000;

async function main() {
  const users = fs.readFileSync(cfg.keysFile, 'utf8').split('\n').filter(Boolean)
    .map((l) => { const [name, key, role] = l.split(/\s+/); return { name, key, role }; });
  const sharees = users.filter((u) => u.role === 'sharee');
  const bystanders = users.filter((u) => u.role === 'bystander');
  if (sharees.length > cfg.connections) throw new Error('more sharees than connections');
  if (bystanders.length === 0 && cfg.connections > sharees.length) throw new Error('no bystanders');

  // 1. The file, shared with every sharee.
  let r = await request('POST', '/files?name=s7-fanout.txt',
    { key: cfg.ownerKey, body: 'version 1\n', headers: { 'Content-Type': 'text/plain' } });
  if (r.status !== 201) throw new Error(`upload: ${r.status} ${r.text}`);
  const fileId = JSON.parse(r.text).id;
  let etag = r.headers.etag;
  const t_share = now();
  await pool(sharees, 8, async (u) => {
    const s = await request('POST', `/shares/${fileId}`, { key: cfg.ownerKey,
      body: JSON.stringify({ target_user_id: u.name, permission: 'read' }),
      headers: { 'Content-Type': 'application/json' } });
    if (s.status !== 201) throw new Error(`share with ${u.name}: ${s.status} ${s.text}`);
  });
  log(`file ${fileId} shared with ${sharees.length} users in ${((now() - t_share) / 1000).toFixed(1)} s`);
  await sleep(1000);  // the live feed has delivered the share events to nobody; let it idle

  // 2. Memory before.
  const rssBefore = vmRssKib(cfg.serverPid);
  const sockBefore = sockstat();
  if (await liveSubscribers() !== 0) throw new Error('streams open before the measurement');

  // 3. Streams: one per sharee, the rest spread over the bystanders.
  const plan = sharees.map((u) => ({ user: u, sharee: true }));
  for (let i = 0; plan.length < cfg.connections; i++)
    plan.push({ user: bystanders[i % bystanders.length], sharee: false });
  const wsUrl = cfg.url.replace(/^http/, 'ws') + '/ws/events';
  const streams = new Array(plan.length);
  let failedOpen = 0, closedEarly = 0, bystanderFileMessages = 0;
  let round = null;  // { version, t_sent, got: Float64Array(sharees), count }
  const t_open = now();
  await pool(plan, cfg.openConcurrency, (p, i) => new Promise((resolve) => {
    const ws = new WebSocket(wsUrl, { headers: { Authorization: `Bearer ${p.user.key}` },
      perMessageDeflate: false });
    streams[i] = ws;
    let opened = false;
    ws.on('open', () => { opened = true; resolve(); });
    ws.on('error', (e) => { if (!opened) { failedOpen++; log(`open ${i}: ${e.message}`); resolve(); } });
    ws.on('close', () => { if (opened) closedEarly++; });
    ws.on('message', (data) => {
      const t = now();  // first, before parsing: the receipt time is what is measured
      if (!round) return;
      const text = data.toString();
      if (!text.includes(fileId)) return;
      const msg = JSON.parse(text);
      if (msg.kind !== 'event' || msg.event.type !== 'file.updated') return;
      if (!p.sharee) { bystanderFileMessages++; return; }
      if (msg.event.file.version !== round.version) return;
      if (round.got[i] === 0) { round.got[i] = t; round.count++; if (round.count === sharees.length) round.done(); }
    });
  }));
  const openSeconds = (now() - t_open) / 1000;
  const opened = streams.filter((w) => w.readyState === WebSocket.OPEN).length;
  log(`${opened} streams open in ${openSeconds.toFixed(1)} s (${failedOpen} failed)`);
  // The upgrade completes before the server registers the stream: wait for the server's count.
  let subs = 0;
  for (let i = 0; i < 200; i++) {
    subs = await liveSubscribers();
    if (subs >= opened) break;
    await sleep(100);
  }
  await sleep(cfg.settleMs);
  const rssAfter = vmRssKib(cfg.serverPid);
  const sockAfter = sockstat();
  subs = await liveSubscribers();
  log(`server: ${subs} live subscribers, VmRSS ${rssBefore} -> ${rssAfter} KiB`);

  // 4. Fan-out rounds.
  const sinceSent = [], sinceResponse = [], perRound = [];
  let delivered = 0, expected = 0;
  for (let k = 0; k < cfg.rounds; k++) {
    const version = k + 2;
    round = { version, got: new Float64Array(sharees.length), count: 0 };
    const all = new Promise((resolve) => { round.done = resolve; });
    const body = `version ${version}\n`;
    const cpu0 = process.cpuUsage(), elu0 = performance.eventLoopUtilization();
    const srv0 = threadCpuMs(cfg.serverPid);
    const t_sent = now();
    r = await request('PUT', `/files/${fileId}`, { key: cfg.ownerKey, body,
      headers: { 'Content-Type': 'text/plain', 'If-Match': etag } });
    const t_resp = now();
    if (r.status !== 200) throw new Error(`replace: ${r.status} ${r.text}`);
    etag = r.headers.etag;
    await Promise.race([all, sleep(cfg.eventTimeoutMs)]);
    const t_done = now();
    const cpu = process.cpuUsage(cpu0), elu = performance.eventLoopUtilization(elu0);
    const srv = busiestThreads(srv0, threadCpuMs(cfg.serverPid));
    const lat = [];
    for (let i = 0; i < sharees.length; i++) {
      if (round.got[i] === 0) continue;
      lat.push(round.got[i] - t_sent);
      sinceResponse.push(round.got[i] - t_resp);
    }
    lat.sort((a, b) => a - b);
    sinceSent.push(...lat);
    delivered += round.count; expected += sharees.length;
    perRound.push({ delivered: round.count, put_ms: round3(t_resp - t_sent), first_ms: round3(lat[0] ?? null),
      p50_ms: round3(pct(lat, 50)), p99_ms: round3(pct(lat, 99)), max_ms: round3(lat[lat.length - 1] ?? null),
      // Who was busy from the PUT to the last delivery: the client's CPU and event-loop
      // utilisation, and the CPU of the server's three busiest threads (10 ms resolution).
      window_ms: round3(t_done - t_sent), client_cpu_ms: round3((cpu.user + cpu.system) / 1000),
      client_elu: round3(elu.utilization), server_thread_cpu_ms: srv });
    log(`round ${k + 1}: ${round.count}/${sharees.length} delivered, PUT ${(t_resp - t_sent).toFixed(1)} ms, ` +
      `p50 ${pct(lat, 50)?.toFixed(1)} p99 ${pct(lat, 99)?.toFixed(1)} max ${lat[lat.length - 1]?.toFixed(1)} ms; ` +
      `client cpu ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms elu ${elu.utilization.toFixed(2)}, ` +
      `server threads ${srv.join('/')} ms`);
    round = null;
    await sleep(500);
  }
  sinceSent.sort((a, b) => a - b);
  sinceResponse.sort((a, b) => a - b);
  const stillOpen = streams.filter((w) => w.readyState === WebSocket.OPEN).length;

  for (const w of streams) w.terminate();
  agent.destroy();
  const conns = opened;
  console.log(JSON.stringify({
    connections_planned: plan.length, connections_open: opened, open_failures: failedOpen,
    open_seconds: round3(openSeconds), server_live_subscribers: subs, closed_early: closedEarly,
    still_open_after_rounds: stillOpen, sharees: sharees.length,
    bystander_users: bystanders.length,
    rss_before_kib: rssBefore, rss_after_kib: rssAfter,
    rss_per_connection_bytes: conns ? Math.round(((rssAfter - rssBefore) * 1024) / conns) : null,
    tcp_mem_pages_before: sockBefore.tcp_mem_pages, tcp_mem_pages_after: sockAfter.tcp_mem_pages,
    tcp_inuse_after: sockAfter.tcp_inuse,
    rounds: cfg.rounds, delivered, expected, bystander_file_messages: bystanderFileMessages,
    fanout_p50_ms: round3(pct(sinceSent, 50)), fanout_p99_ms: round3(pct(sinceSent, 99)),
    fanout_max_ms: round3(sinceSent[sinceSent.length - 1] ?? null),
    since_response_p50_ms: round3(pct(sinceResponse, 50)),
    since_response_p99_ms: round3(pct(sinceResponse, 99)),
    per_round: perRound,
  }));
}

main().catch((e) => { console.error('ws-fanout: error:', e.stack || e); process.exit(1); });
