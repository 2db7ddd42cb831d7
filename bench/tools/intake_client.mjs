// Image-intake load client (issue 6, scenario 8): SESSIONS concurrent WebSocket sessions on
// /ws/intake, each sending FILES pictures one after the other (announce, wait for `ready`, the
// bytes in 64 KiB binary frames, wait for the verdict). Pictures are taken round-robin from the
// files given, each at most once overall when there are enough of them.
//
// Verdict latency: from the moment the last frame of a file was handed to the kernel (the `ws`
// send callback) to the verdict's arrival.
//
// Usage: node intake_client.mjs URL KEY SESSIONS FILES_PER_SESSION PICTURE...
// Prints one JSON object: accepted, rejected (by code), wall_s, images_per_s, latency p50/p99.
import fs from 'node:fs';
import path from 'node:path';
import { WebSocket } from 'ws';

const [url, key, sessionsArg, perArg, ...pictures] = process.argv.slice(2);
const sessions = Number(sessionsArg), perSession = Number(perArg);
if (!url || !key || !(sessions > 0) || !(perSession > 0) || pictures.length === 0) {
  console.error('usage: node intake_client.mjs URL KEY SESSIONS FILES_PER_SESSION PICTURE...');
  process.exit(2);
}
const bytes = pictures.map((p) => fs.readFileSync(p));
const FRAME = 64 * 1024;

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank), hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
}

function runSession(s) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace(/^http/, 'ws') + '/ws/intake', {
      headers: { Authorization: `Bearer ${key}` }, perMessageDeflate: false,
    });
    const out = { latencies: [], verdicts: [], bytes: 0 };
    let i = 0, current = null, lastSent = 0;
    const next = () => {
      if (i === perSession) { ws.close(1000); return; }
      const k = (s * perSession + i) % bytes.length;
      current = { id: `s${s}f${i}`, buf: bytes[k], name: path.basename(pictures[k]) };
      i++;
      ws.send(JSON.stringify({ type: 'file', client_file_id: current.id, name: current.name,
        size: current.buf.length }));
    };
    const sendBytes = () => {
      const buf = current.buf;
      for (let off = 0; off < buf.length; off += FRAME) {
        const last = off + FRAME >= buf.length;
        ws.send(buf.subarray(off, off + FRAME), { binary: true },
          last ? (err) => { if (!err) lastSent = performance.now(); } : undefined);
      }
      out.bytes += buf.length;
    };
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      const m = JSON.parse(data.toString());
      if (m.type === 'session') next();
      else if (m.type === 'ready') sendBytes();
      else if (m.type === 'verdict') {
        // A verdict before the last byte left (a refusal at announcement) has no latency.
        if (lastSent) out.latencies.push(performance.now() - lastSent);
        lastSent = 0;
        out.verdicts.push(m.accepted ? 'accepted' : m.code || 'rejected');
        next();
      } else if (m.type === 'error') {
        reject(new Error(`session ${s}: ${JSON.stringify(m)}`));
      }
    });
    ws.on('close', () => resolve(out));
    ws.on('error', reject);
  });
}

const t0 = performance.now();
const results = await Promise.all(Array.from({ length: sessions }, (_, s) => runSession(s)));
const wall = (performance.now() - t0) / 1000;
const latencies = results.flatMap((r) => r.latencies).sort((a, b) => a - b);
const counts = {};
for (const v of results.flatMap((r) => r.verdicts)) counts[v] = (counts[v] || 0) + 1;
const accepted = counts.accepted || 0;
delete counts.accepted;
console.log(JSON.stringify({
  sessions, files_per_session: perSession, sent: sessions * perSession, accepted,
  rejected: counts, wall_s: +wall.toFixed(3), images_per_s: +(accepted / wall).toFixed(2),
  mb_per_s: +(results.reduce((a, r) => a + r.bytes, 0) / wall / 1e6).toFixed(2),
  verdict_p50_ms: +percentile(latencies, 50).toFixed(2),
  verdict_p99_ms: +percentile(latencies, 99).toFixed(2),
  verdict_max_ms: +latencies[latencies.length - 1].toFixed(2),
}));
