// Walks a user's whole `GET /files` listing by following `Link: <...>; rel="next"` (issue 6,
// scenario 9), checking that pages are newest first, never overlap and add up to the listing.
// Prints the path of every page (first page first) on stdout, one per line, for the load
// generator; a summary as JSON on stderr.
//
// Usage: node walk_pages.mjs URL KEY [LIMIT]
import http from 'node:http';

const [url, key, limitArg] = process.argv.slice(2);
const base = new URL(url);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const get = (path) => new Promise((resolve, reject) => {
  http.get({ host: base.hostname, port: base.port, path, agent,
    headers: { Authorization: `Bearer ${key}` } }, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (d) => { body += d; });
    res.on('end', () => resolve({ status: res.statusCode, link: res.headers.link, body }));
  }).on('error', reject);
});

let path = '/files' + (limitArg ? `?limit=${limitArg}` : '');
const paths = [];
const seen = new Set();
let items = 0, shared = 0, lastCreated = Infinity;
const t0 = performance.now();
while (path) {
  const r = await get(path);
  if (r.status !== 200) throw new Error(`${path}: HTTP ${r.status}: ${r.body.slice(0, 200)}`);
  paths.push(path);
  for (const f of JSON.parse(r.body)) {
    if (seen.has(f.id)) throw new Error(`${f.id} listed twice`);
    seen.add(f.id);
    if (f.created_at > lastCreated) throw new Error(`not newest first at ${f.id}`);
    lastCreated = f.created_at;
    items++;
    if (f.permission) shared++;
  }
  const m = r.link && /<([^>]+)>;\s*rel="next"/.exec(r.link);
  path = m ? m[1] : null;
}
agent.destroy();
process.stdout.write(paths.join('\n') + '\n');
console.error(JSON.stringify({ pages: paths.length, items, shared,
  walk_ms: +(performance.now() - t0).toFixed(1) }));
