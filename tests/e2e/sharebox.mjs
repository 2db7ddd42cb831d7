// Test support: runs the real `sharebox serve` binary on 127.0.0.1:0 in a fresh temporary data
// directory (like tests/support/server_process.hpp does for the C++ tests), creates users with
// the `sharebox user add` CLI, and speaks plain HTTP to it with node:http.
//
// The binary is $SHAREBOX_BINARY (set by CTest), else build/sharebox of this checkout.
// SHAREBOX_TEST_KEEP_DATA=1 keeps the temporary directories.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const binary = process.env.SHAREBOX_BINARY || path.resolve(here, '../../build/sharebox');

const STARTUP_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 15_000;

// Servers still running, killed if this process exits without stopping them.
const live = new Set();
process.on('exit', () => {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

// The children's environment: ours without anything that would configure sharebox.
function childEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('SHAREBOX_') || k === 'API_KEY_MAPPINGS' || k.startsWith('RABBITMQ_')) continue;
    env[k] = v;
  }
  return env;
}

function tail(text, max = 6000) {
  return text.length > max ? `...${text.slice(-max)}` : text;
}

export class Server {
  constructor(root, dataDir, child, extraArgs) {
    this.root = root;
    this.dataDir = dataDir;
    this.child = child;
    this.extraArgs = extraArgs;
    this.port = 0;
    this.adminKey = null;
    this.stdout = '';
    this.stderr = '';
    this.exit = null; // {code, signal} once exited
  }

  get baseUrl() {
    return `http://127.0.0.1:${this.port}`;
  }

  get tusUrl() {
    return `${this.baseUrl}/tus/`;
  }

  url(target) {
    return new URL(target, this.baseUrl).toString();
  }

  // `sharebox user add NAME --data-dir DIR`: the new user's API key.
  addUser(name) {
    return new Promise((resolve, reject) => {
      execFile(
        binary,
        ['user', 'add', name, '--data-dir', this.dataDir],
        { env: childEnv(), timeout: 30_000 },
        (err, stdout, stderr) => {
          if (err) {
            reject(new Error(`sharebox user add ${name} failed: ${err.message}\n${stderr}`));
            return;
          }
          const key = stdout.trim();
          if (!key || /\s/.test(key)) {
            reject(new Error(`sharebox user add ${name} printed no key: ${JSON.stringify(stdout)}`));
            return;
          }
          resolve(key);
        },
      );
    });
  }

  // Everything the server printed, for failure messages.
  logs() {
    return `--- sharebox stdout ---\n${tail(this.stdout)}\n--- sharebox stderr ---\n${tail(this.stderr)}`;
  }

  // SIGTERM, then SIGKILL if it has not exited in time; removes the temporary directory.
  async stop() {
    if (this.exit === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGTERM');
      let timer;
      const timedOut = await Promise.race([
        exited.then(() => false),
        new Promise((resolve) => {
          timer = setTimeout(() => resolve(true), STOP_TIMEOUT_MS);
        }),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        this.child.kill('SIGKILL');
        await exited;
      }
    }
    live.delete(this.child);
    if (!process.env.SHAREBOX_TEST_KEEP_DATA) {
      await rm(this.root, { recursive: true, force: true });
    }
    return this.exit;
  }
}

// Starts `sharebox serve --listen 127.0.0.1:0 --data-dir DIR --events off ...extraArgs` and waits
// for its listening line.
export async function startServer(extraArgs = []) {
  const root = await mkdtemp(path.join(os.tmpdir(), 'sharebox-e2e-'));
  const dataDir = path.join(root, 'data');
  const args = ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--events', 'off', ...extraArgs];
  const child = spawn(binary, args, { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const server = new Server(root, dataDir, child, extraArgs);

  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => {
    server.stderr += d;
  });
  child.stdout.setEncoding('utf8');

  try {
    await new Promise((resolve, reject) => {
      let pending = '';
      const timer = setTimeout(() => {
        reject(new Error(`sharebox did not report listening within ${STARTUP_TIMEOUT_MS} ms`));
      }, STARTUP_TIMEOUT_MS);
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`cannot start ${binary}: ${err.message}`));
      });
      // 'close' rather than 'exit': by then everything it printed has been read.
      child.once('close', (code, signal) => {
        server.exit = { code, signal };
        live.delete(child);
        clearTimeout(timer);
        reject(new Error(`sharebox exited before listening (code ${code}, signal ${signal})`));
      });
      child.stdout.on('data', (d) => {
        server.stdout += d;
        pending += d;
        let nl;
        while ((nl = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, nl).trim();
          pending = pending.slice(nl + 1);
          const key = /^sharebox: initial admin API key: (\S+)$/.exec(line);
          if (key) server.adminKey = key[1];
          const listening = /^sharebox: listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(line);
          if (listening) {
            server.port = Number(listening[1]);
            clearTimeout(timer);
            resolve();
          }
        }
      });
    });
  } catch (err) {
    child.kill('SIGKILL');
    err.message += `\n${server.logs()}`;
    await rm(root, { recursive: true, force: true });
    throw err;
  }
  child.removeAllListeners('close');
  child.once('exit', (code, signal) => {
    server.exit = { code, signal };
  });
  return server;
}

// Runs fn(server) against a fresh server and stops it afterwards; a failure carries the
// server's logs.
export async function withServer(extraArgs, fn) {
  const server = await startServer(extraArgs);
  try {
    return await fn(server);
  } catch (err) {
    if (err && typeof err === 'object') {
      try {
        err.message = `${err.message}\n${server.logs()}`;
      } catch {
        // read-only message
      }
    }
    throw err;
  } finally {
    await server.stop();
  }
}

// One HTTP/1.1 request on its own connection. Resolves {status, headers, body: Buffer};
// header names are lower case.
export function request(method, url, { headers = {}, body = null, timeoutMs = 30_000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${url}: no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body ?? undefined);
  });
}

// Comma-separated header value as a lower-case list.
export function headerList(value) {
  if (value === undefined || value === null) return [];
  return String(value)
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
}
