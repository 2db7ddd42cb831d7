// Turns the run's results TSV (see result_add in common.sh) into a console table,
// results/latest.json and results/latest.md. Usage: node report.js RESULTS_TSV OUT_DIR
// Machine and run facts come from BENCH_* environment variables set by bench/run.
'use strict';
const fs = require('fs');
const path = require('path');
const [tsv, outDir] = process.argv.slice(2);
const env = process.env;

const num = (s) => (s === undefined || s === '' || s === '-' ? null : Number(s));
const rows = fs.readFileSync(tsv, 'utf8').split('\n').filter(Boolean).map((line) => {
  const [id, title, metric, unit, sb, anchor, anchorName, kind, target, ...rest] = line.split('\t');
  const extra = {};
  for (const kv of rest) {
    const i = kv.indexOf('=');
    const k = kv.slice(0, i), v = kv.slice(i + 1);
    extra[k] = v !== '' && !isNaN(Number(v)) ? Number(v) : v;
  }
  const s = { id, title, metric, unit, sharebox: num(sb), anchor: num(anchor),
    anchor_name: anchorName === '-' ? null : anchorName, kind, target: num(target), extra };
  s.ratio = s.anchor ? s.sharebox / s.anchor : null;
  if (kind === 'ratio') s.met = s.ratio !== null && s.ratio >= s.target;
  else if (kind === 'max') s.met = s.sharebox !== null && s.sharebox <= s.target;
  else if (kind === 'min') s.met = s.sharebox !== null && s.sharebox >= s.target;
  else s.met = null;
  return s;
});

function fmt(v, unit) {
  if (v === null) return '-';
  if (unit === 'B/s') return v >= 1e9 ? `${(v / 1e9).toFixed(2)} GB/s` : `${(v / 1e6).toFixed(0)} MB/s`;
  if (unit === 'B') return v >= 1 << 20 ? `${(v / (1 << 20)).toFixed(1)} MiB` : `${(v / 1024).toFixed(1)} KiB`;
  if (unit === 'req/s') return `${Math.round(v).toLocaleString('en-US')} req/s`;
  return `${+v.toFixed(3)} ${unit}`;
}
function targetText(s) {
  if (s.kind === 'ratio') return `>= ${s.target}x ${s.anchor_name}`;
  if (s.kind === 'max') return `<= ${fmt(s.target, s.unit)}`;
  if (s.kind === 'min') return `>= ${fmt(s.target, s.unit)}`;
  return '-';
}
function note(s) {
  const e = s.extra, out = [];
  if (e.sharebox_p99_ms !== undefined) out.push(`p99 ${e.sharebox_p99_ms} ms vs ${e.nginx_p99_ms} ms`);
  if (e.sharebox_errors) out.push(`${e.sharebox_errors} sharebox errors`);
  if (e.nginx_errors) out.push(`${e.nginx_errors} nginx errors`);
  if (e.statistic) out.push(e.statistic);
  return out.join('; ');
}

const header = ['scenario', 'sharebox', 'anchor', 'ratio', 'target', 'result', 'notes'];
const table = rows.map((s) => [
  `${s.id} ${s.title}`, fmt(s.sharebox, s.unit),
  s.anchor === null ? '-' : `${fmt(s.anchor, s.unit)} (${s.anchor_name})`,
  s.ratio === null ? '-' : `${s.ratio.toFixed(2)}x`, targetText(s),
  s.met === null ? '-' : s.met ? 'PASS' : 'FAIL', note(s),
]);

const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
const line = (r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
console.log(line(header));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of table) console.log(line(r));

const machine = {
  nproc: Number(env.BENCH_NPROC), cpu_model: env.BENCH_CPU, kernel: env.BENCH_KERNEL,
  memory_total_kib: Number(env.BENCH_MEM_KIB), os: env.BENCH_OS,
};
const run = {
  date: env.BENCH_DATE, git_commit: env.BENCH_GIT, git_dirty: env.BENCH_GIT_DIRTY === '1',
  pinning: env.BENCH_PIN_DESC, wall_seconds: Number(env.BENCH_WALL),
  tools: { wrk: env.BENCH_WRK_VERSION, nginx: env.BENCH_NGINX_VERSION, curl: env.BENCH_CURL_VERSION },
  build: 'Release (-O3), build-bench/',
  sharebox_extra_args: env.BENCH_SHAREBOX_ARGS || '',
};
const json = { machine, run, scenarios: rows };
fs.mkdirSync(outDir, { recursive: true });
fs.writeFileSync(path.join(outDir, 'latest.json'), JSON.stringify(json, null, 2) + '\n');

const esc = (c) => c.replace(/\|/g, '\\|');
const md = [
  `# sharebox benchmark, ${run.date}`, '',
  `Machine: ${machine.nproc} cores, ${machine.cpu_model}, ${Math.round(machine.memory_total_kib / 1024)} MiB RAM, kernel ${machine.kernel}, ${machine.os}.`,
  `Commit ${run.git_commit}${run.git_dirty ? ' (dirty tree)' : ''}; ${run.build}; ${run.pinning}; wrk ${run.tools.wrk}, nginx ${run.tools.nginx}; whole run ${run.wall_seconds} s.` +
    (run.sharebox_extra_args ? ` sharebox options: \`${run.sharebox_extra_args}\`.` : ''),
  '', `| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`,
  ...table.map((r) => `| ${r.map(esc).join(' | ')} |`), '',
].join('\n');
fs.writeFileSync(path.join(outDir, 'latest.md'), md);
