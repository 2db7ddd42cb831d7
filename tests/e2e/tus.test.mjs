// End-to-end tests of sharebox's tus 1.0.0 server (/tus/) with the official tus-js-client, and
// with hand-written requests where the client cannot say what a test needs (checksums, CORS,
// protocol errors). Every test starts its own server on 127.0.0.1:0 in a temporary directory,
// creates the user `alice`, and downloads what it uploaded to compare it byte for byte.
//
// Run: cd tests/e2e && npm ci && SHAREBOX_BINARY=../../build/sharebox node --test tus.test.mjs
// (or `ctest -L e2e` in a build directory).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';

import * as tus from 'tus-js-client';

import { headerList, request, withServer } from './sharebox.mjs';

const KiB = 1024;
const MiB = 1024 * KiB;
const TEST_TIMEOUT = 60_000;

// ---------------------------------------------------------------------------------------------
// helpers

const auth = (key) => ({ Authorization: `Bearer ${key}` });
const tusHeaders = (key) => ({ ...auth(key), 'Tus-Resumable': '1.0.0' });

function digest(algorithm, data, encoding = 'base64') {
  return createHash(algorithm).update(data).digest(encoding);
}

const b64 = (s) => Buffer.from(s, 'utf8').toString('base64');

// "key base64value,key2,..." -> {key: decoded}
function parseMetadata(header) {
  const out = {};
  for (const pair of String(header ?? '').split(',')) {
    const [k, v] = pair.trim().split(' ');
    if (!k) continue;
    out[k] = v === undefined ? '' : Buffer.from(v, 'base64').toString('utf8');
  }
  return out;
}

// Byte-for-byte comparison without dumping megabytes into the failure message.
function assertSameBytes(actual, expected, what) {
  assert.ok(Buffer.isBuffer(actual), `${what}: no body`);
  if (actual.equals(expected)) return;
  let i = 0;
  while (i < actual.length && i < expected.length && actual[i] === expected[i]) i++;
  assert.fail(
    `${what}: ${actual.length} bytes received, ${expected.length} expected; first difference at byte ${i}` +
      ` (sha256 ${digest('sha256', actual, 'hex')} vs ${digest('sha256', expected, 'hex')})`,
  );
}

function describeResponse(res) {
  const body = res.body.length > 600 ? `${res.body.subarray(0, 600)}...` : res.body.toString();
  return `HTTP ${res.status} ${JSON.stringify(res.headers)} ${body}`;
}

function assertStatus(res, expected, what) {
  const ok = Array.isArray(expected) ? expected.includes(res.status) : res.status === expected;
  assert.ok(ok, `${what}: expected status ${expected}, got ${describeResponse(res)}`);
}

async function getJson(server, key, target) {
  const res = await request('GET', server.url(target), { headers: auth(key) });
  assertStatus(res, 200, `GET ${target}`);
  return JSON.parse(res.body.toString('utf8'));
}

async function download(url, key) {
  const res = await request('GET', url, { headers: auth(key) });
  assertStatus(res, 200, `GET ${url}`);
  return res.body;
}

async function head(url, key) {
  return request('HEAD', url, { headers: tusHeaders(key) });
}

// The file object of `fileId` matches `data`; the file's content and the upload URL's content
// are `data` byte for byte.
async function assertStoredFile(server, key, { fileId, uploadUrl, data, name, contentType }) {
  assert.match(fileId, /^[A-Za-z0-9_-]+$/, `Sharebox-File-Id ${JSON.stringify(fileId)} is not a URL-safe id`);
  const meta = await getJson(server, key, `/files/${fileId}/meta`);
  assert.equal(meta.id, fileId, 'file object id');
  assert.equal(meta.name, name, 'file name (from Upload-Metadata filename)');
  assert.equal(meta.size, data.length, 'file size');
  assert.equal(meta.sha256, digest('sha256', data, 'hex'), 'file sha256');
  if (contentType !== undefined) assert.equal(meta.content_type, contentType, 'file content type (from filetype)');
  assertSameBytes(await download(server.url(`/files/${fileId}`), key), data, `GET /files/${fileId}`);
  if (uploadUrl) assertSameBytes(await download(uploadUrl, key), data, `GET ${uploadUrl}`);
  return meta;
}

// Starts a tus-js-client upload. `log` records every request the client made and the answer:
// {method, url, offset, concat, length, checksum, status, res}. Retries are off unless the
// options turn them on, so that a server error fails the test instead of being papered over.
function startUpload(data, options) {
  const log = [];
  let upload;
  const done = new Promise((resolve, reject) => {
    upload = new tus.Upload(data, {
      retryDelays: null,
      ...options,
      onAfterResponse: async (req, res) => {
        log.push({
          method: req.getMethod(),
          url: req.getURL(),
          offset: req.getHeader('Upload-Offset'),
          length: req.getHeader('Upload-Length'),
          deferLength: req.getHeader('Upload-Defer-Length'),
          concat: req.getHeader('Upload-Concat'),
          checksum: req.getHeader('Upload-Checksum'),
          status: res.getStatus(),
          res,
        });
        if (options.onAfterResponse) await options.onAfterResponse(req, res);
      },
      onSuccess: (payload) => resolve(payload?.lastResponse ?? null),
      onError: reject,
    });
  });
  return { upload, done, log };
}

async function runUpload(data, options) {
  const { upload, done, log } = startUpload(data, options);
  upload.start();
  const lastResponse = await done;
  return { upload, lastResponse, log };
}

function tusOptions(server, key, extra = {}) {
  return { endpoint: server.tusUrl, headers: auth(key), ...extra };
}

// A tus-js-client urlStorage kept in memory (Node's tus-js-client has none by default).
class MemoryUrlStorage {
  constructor() {
    this.entries = new Map();
    this.next = 0;
  }
  async findAllUploads() {
    return [...this.entries.values()];
  }
  async findUploadsByFingerprint(fingerprint) {
    return [...this.entries.values()].filter((u) => u.fingerprint === fingerprint);
  }
  async removeUpload(urlStorageKey) {
    this.entries.delete(urlStorageKey);
  }
  async addUpload(fingerprint, upload) {
    const urlStorageKey = `tus::${fingerprint}::${this.next++}`;
    this.entries.set(urlStorageKey, { ...upload, fingerprint, urlStorageKey });
    return urlStorageKey;
  }
}

// A tus-js-client httpStack that behaves like the default one, except that once `armed` the
// next PATCH sends only the first half of its body and then stalls, as over a connection that
// died; `stalled` resolves when that half has left and the server had time to read it. The
// client's abort() then closes the connection.
class StallingHttpStack {
  constructor() {
    this.inner = new tus.DefaultHttpStack();
    this.armed = false;
    this.used = false;
    this.stalledOffset = null;
    this.sentOfStalled = 0;
    this.stalled = new Promise((resolve) => {
      this.resolveStalled = resolve;
    });
  }

  getName() {
    return 'StallingHttpStack';
  }

  createRequest(method, url) {
    const req = this.inner.createRequest(method, url);
    if (method !== 'PATCH' || !this.armed || this.used) return req;
    this.used = true;
    let clientRequest = null;
    req.send = (body) =>
      new Promise((resolve, reject) => {
        const headers = { 'Content-Length': String(body.length) };
        for (const name of ['Tus-Resumable', 'Authorization', 'Upload-Offset', 'Content-Type']) {
          if (req.getHeader(name) !== undefined) headers[name] = req.getHeader(name);
        }
        this.stalledOffset = Number(req.getHeader('Upload-Offset'));
        this.sentOfStalled = Math.floor(body.length / 2);
        clientRequest = http.request(url, { method, headers, agent: false });
        clientRequest.on('response', () => reject(new Error('the stalled PATCH got an answer')));
        clientRequest.on('error', reject);
        clientRequest.write(body.subarray(0, this.sentOfStalled), () => {
          setTimeout(this.resolveStalled, 200);
        });
      });
    req.abort = () => {
      clientRequest?.destroy();
      return Promise.resolve();
    };
    return req;
  }
}

// Creates an upload by hand: POST /tus/ -> absolute upload URL.
async function createUpload(server, key, length, { filename, headers = {} } = {}) {
  const h = { ...tusHeaders(key), 'Upload-Length': String(length), ...headers };
  if (filename) h['Upload-Metadata'] = `filename ${b64(filename)}`;
  const res = await request('POST', server.tusUrl, { headers: h });
  assertStatus(res, 201, 'POST /tus/ (creation)');
  assert.ok(res.headers.location, 'creation answer has a Location');
  assert.equal(res.headers['tus-resumable'], '1.0.0', 'Tus-Resumable on the creation answer');
  return { url: new URL(res.headers.location, server.tusUrl).toString(), res };
}

function patch(url, key, offset, body, headers = {}) {
  return request('PATCH', url, {
    headers: {
      ...tusHeaders(key),
      'Content-Type': 'application/offset+octet-stream',
      'Upload-Offset': String(offset),
      ...headers,
    },
    body,
  });
}

async function assertOffset(url, key, expected, what) {
  const res = await head(url, key);
  assertStatus(res, 200, `HEAD ${what}`);
  assert.equal(res.headers['upload-offset'], String(expected), `Upload-Offset ${what}`);
  return res;
}

// Starts a server with `alice`, runs fn({server, key}).
function aliceTest(name, fn, { args = [], timeout = TEST_TIMEOUT } = {}) {
  test(name, { timeout }, (t) =>
    withServer(args, async (server) => {
      const key = await server.addUser('alice');
      await fn({ server, key, t });
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// discovery

aliceTest('OPTIONS /tus/ advertises tus 1.0.0, its extensions and checksum algorithms', async ({ server, key }) => {
  const res = await request('OPTIONS', server.tusUrl, { headers: auth(key) });
  assertStatus(res, [200, 204], 'OPTIONS /tus/');
  assert.ok(headerList(res.headers['tus-version']).includes('1.0.0'), `Tus-Version: ${res.headers['tus-version']}`);
  const extensions = headerList(res.headers['tus-extension']);
  for (const ext of [
    'creation',
    'creation-with-upload',
    'creation-defer-length',
    'termination',
    'checksum',
    'expiration',
    'concatenation',
  ]) {
    assert.ok(extensions.includes(ext), `Tus-Extension lacks ${ext}: ${res.headers['tus-extension']}`);
  }
  const algorithms = headerList(res.headers['tus-checksum-algorithm']);
  for (const alg of ['sha1', 'md5', 'sha256']) {
    assert.ok(algorithms.includes(alg), `Tus-Checksum-Algorithm lacks ${alg}: ${res.headers['tus-checksum-algorithm']}`);
  }
  if (res.headers['tus-max-size'] !== undefined) {
    assert.match(res.headers['tus-max-size'], /^\d+$/, 'Tus-Max-Size is a non-negative integer');
  }
});

// ---------------------------------------------------------------------------------------------
// 1. a plain upload

aliceTest('tus-js-client uploads a file in 1 MiB chunks; it becomes a sharebox file', async ({ server, key }) => {
  const data = randomBytes(3 * MiB + 12_345);
  const { upload, lastResponse, log } = await runUpload(
    data,
    tusOptions(server, key, {
      chunkSize: MiB,
      metadata: { filename: 'a.bin', filetype: 'application/octet-stream' },
    }),
  );

  assert.ok(upload.url.startsWith(server.tusUrl), `upload URL ${upload.url} is under ${server.tusUrl}`);
  const posts = log.filter((r) => r.method === 'POST');
  const patches = log.filter((r) => r.method === 'PATCH');
  assert.equal(posts.length, 1, 'one creation request');
  assert.equal(posts[0].status, 201, 'creation answers 201 Created');
  assert.equal(patches.length, 4, 'four PATCH requests (3 MiB + a bit, 1 MiB chunks)');
  let expectedOffset = 0;
  for (const p of patches) {
    assert.equal(p.status, 204, 'PATCH answers 204 No Content');
    assert.equal(p.offset, String(expectedOffset), 'PATCH offsets follow each other');
    expectedOffset = Math.min(expectedOffset + MiB, data.length);
    assert.equal(p.res.getHeader('Upload-Offset'), String(expectedOffset), 'PATCH answer has the new offset');
    assert.equal(p.res.getHeader('Tus-Resumable'), '1.0.0', 'Tus-Resumable on PATCH answers');
  }

  assert.ok(lastResponse, 'onSuccess got the last response');
  const fileId = lastResponse.getHeader('Sharebox-File-Id');
  assert.ok(fileId, 'the final PATCH answer carries Sharebox-File-Id');
  for (const p of patches.slice(0, -1)) {
    assert.equal(p.res.getHeader('Sharebox-File-Id'), undefined, 'no Sharebox-File-Id before the upload is complete');
  }

  const h = await head(upload.url, key);
  assertStatus(h, 200, 'HEAD on the finished upload');
  assert.equal(h.headers['upload-offset'], String(data.length), 'HEAD Upload-Offset');
  assert.equal(h.headers['upload-length'], String(data.length), 'HEAD Upload-Length');
  assert.equal(h.headers['tus-resumable'], '1.0.0', 'HEAD Tus-Resumable');
  assert.ok(headerList(h.headers['cache-control']).includes('no-store'), 'HEAD has Cache-Control: no-store');
  assert.equal(h.headers['sharebox-file-id'], fileId, 'HEAD Sharebox-File-Id');
  assert.deepEqual(
    parseMetadata(h.headers['upload-metadata']),
    { filename: 'a.bin', filetype: 'application/octet-stream' },
    'HEAD returns the Upload-Metadata given at creation',
  );

  await assertStoredFile(server, key, {
    fileId,
    uploadUrl: upload.url,
    data,
    name: 'a.bin',
    contentType: 'application/octet-stream',
  });
  const files = await getJson(server, key, '/files');
  assert.deepEqual(
    files.map((f) => f.id),
    [fileId],
    'the upload is the only file listed',
  );
});

// ---------------------------------------------------------------------------------------------
// 2. abort mid-way, then resume through tus-js-client's URL storage

aliceTest(
  'an aborted upload resumes from the offset the server kept',
  async ({ server, key, t }) => {
    const data = randomBytes(32 * MiB);
    const urlStorage = new MemoryUrlStorage();
    const options = tusOptions(server, key, {
      chunkSize: MiB,
      urlStorage,
      metadata: { filename: 'resumed.bin', filetype: 'application/octet-stream' },
    });

    // First attempt: once 30 % has been sent, the next PATCH sends half its chunk and stalls, as
    // over a connection that died, and the upload is aborted then (the connection is closed).
    const stack = new StallingHttpStack();
    let resolveAborted;
    let rejectAborted;
    const aborted = new Promise((resolve, reject) => {
      resolveAborted = resolve;
      rejectAborted = reject;
    });
    const first = startUpload(data, {
      ...options,
      httpStack: stack,
      onProgress: (sent, total) => {
        if (!stack.armed && sent >= 0.3 * total) {
          stack.armed = true;
          stack.stalled.then(() => first.upload.abort()).then(resolveAborted, rejectAborted);
        }
      },
    });
    first.upload.start();
    await Promise.race([
      aborted,
      first.done.then(
        () => assert.fail('the first attempt finished although it was aborted'),
        (err) => assert.fail(`the first attempt failed before it was aborted: ${err}`),
      ),
    ]);
    const url = first.upload.url;
    assert.ok(url, 'the first attempt created an upload');
    const acked = first.log.filter((r) => r.method === 'PATCH' && r.status === 204);
    const ackedOffset = Number(acked.at(-1)?.res.getHeader('Upload-Offset'));
    assert.ok(ackedOffset >= 0.3 * data.length - MiB, `acknowledged before the abort: ${ackedOffset}`);
    assert.equal(stack.stalledOffset, ackedOffset, 'the stalled PATCH continued from there');

    // The interrupted PATCH's connection is gone; give the server a moment to notice.
    await sleep(300);
    const h = await head(url, key);
    assertStatus(h, 200, 'HEAD after the abort');
    const kept = Number(h.headers['upload-offset']);
    // The server kept every acknowledged byte, and at most what it got of the interrupted PATCH.
    assert.ok(
      kept >= ackedOffset && kept <= ackedOffset + stack.sentOfStalled,
      `Upload-Offset after the abort is ${h.headers['upload-offset']}: between ${ackedOffset} (acknowledged) ` +
        `and ${ackedOffset + stack.sentOfStalled} (+ the part of the interrupted PATCH that was sent)`,
    );
    assert.ok(kept > 0 && kept < data.length, `Upload-Offset after the abort is ${h.headers['upload-offset']}`);
    t.diagnostic(
      `acknowledged ${ackedOffset} bytes, then a PATCH sent ${stack.sentOfStalled} more and died; the server kept ${kept}`,
    );
    assert.equal(h.headers['upload-length'], String(data.length), 'Upload-Length after the abort');
    assert.equal(h.headers['sharebox-file-id'], undefined, 'no Sharebox-File-Id on an unfinished upload');
    assert.deepEqual(await getJson(server, key, '/files'), [], 'an unfinished upload is not a file');

    // Second attempt: a new Upload finds the URL through the fingerprint and resumes it.
    const second = startUpload(data, {
      ...options,
      // The interrupted PATCH may still be settling on the server: let tus-js-client retry a 409
      // (offset moved) or 423 (locked) by starting over with a HEAD, as a browser would.
      retryDelays: [200, 1000],
      onShouldRetry: (err) => [409, 423].includes(err.originalResponse?.getStatus()),
    });
    const previous = await second.upload.findPreviousUploads();
    assert.equal(previous.length, 1, 'the first attempt left one entry in the URL storage');
    assert.equal(previous[0].uploadUrl, url, 'the stored URL is the upload URL');
    second.upload.resumeFromPreviousUpload(previous[0]);
    second.upload.start();
    const lastResponse = await second.done;

    assert.equal(second.upload.url, url, 'the second attempt finished the same upload (no new one)');
    assert.equal(second.log.filter((r) => r.method === 'POST').length, 0, 'no new upload was created');
    assert.equal(second.log[0].method, 'HEAD', 'resuming starts with a HEAD');
    const patches = second.log.filter((r) => r.method === 'PATCH' && r.status === 204);
    assert.ok(patches.length > 0, 'the rest was sent with PATCH');
    assert.ok(Number(patches[0].offset) >= kept, `the first PATCH starts at ${patches[0].offset}, not at 0`);
    const resentBytes = data.length - Number(patches[0].offset);
    assert.ok(resentBytes < data.length, `the resumed attempt sent ${resentBytes} of ${data.length} bytes`);

    const fileId = lastResponse.getHeader('Sharebox-File-Id');
    assert.ok(fileId, 'the final PATCH answer carries Sharebox-File-Id');
    await assertStoredFile(server, key, { fileId, uploadUrl: url, data, name: 'resumed.bin' });
    const files = await getJson(server, key, '/files');
    assert.deepEqual(
      files.map((f) => f.id),
      [fileId],
      'one file',
    );
  },
  { timeout: 90_000 },
);

// ---------------------------------------------------------------------------------------------
// 3. parallel uploads (concatenation)

aliceTest('parallelUploads: 4 partial uploads concatenated into one file', async ({ server, key }) => {
  const data = randomBytes(8 * MiB + 7);
  const { upload, lastResponse, log } = await runUpload(
    data,
    tusOptions(server, key, {
      parallelUploads: 4,
      chunkSize: MiB,
      metadata: { filename: 'parallel.bin', filetype: 'application/x-sharebox-test' },
    }),
  );

  const partialPosts = log.filter((r) => r.method === 'POST' && r.concat === 'partial');
  const finalPosts = log.filter((r) => r.method === 'POST' && String(r.concat).startsWith('final;'));
  assert.equal(partialPosts.length, 4, 'four partial uploads were created');
  for (const p of partialPosts) assert.equal(p.status, 201, 'partial creation answers 201');
  assert.equal(finalPosts.length, 1, 'one final upload was created');
  assert.equal(finalPosts[0].status, 201, 'final creation answers 201');
  const partialUrls = finalPosts[0].concat.slice('final;'.length).split(' ');
  assert.equal(partialUrls.length, 4, 'the final upload names four partial uploads');
  for (const u of partialUrls) assert.ok(u.startsWith(server.tusUrl), `tus-js-client sends absolute URLs: ${u}`);
  const patches = log.filter((r) => r.method === 'PATCH');
  assert.ok(patches.length >= 4, 'the parts were sent with PATCH');
  for (const p of patches) {
    assert.equal(p.concat, 'partial', 'tus-js-client repeats Upload-Concat: partial on PATCH');
    assert.equal(p.status, 204, 'PATCH of a partial upload answers 204');
  }

  // The final upload is complete as soon as it is created.
  const h = await head(upload.url, key);
  assertStatus(h, 200, 'HEAD on the final upload');
  assert.ok(String(h.headers['upload-concat']).startsWith('final;'), `HEAD Upload-Concat: ${h.headers['upload-concat']}`);
  assert.equal(h.headers['upload-offset'], String(data.length), 'HEAD Upload-Offset of the final upload');
  assert.equal(h.headers['upload-length'], String(data.length), 'HEAD Upload-Length of the final upload');
  const fileId = h.headers['sharebox-file-id'];
  assert.ok(fileId, 'HEAD on the final upload carries Sharebox-File-Id');
  assert.equal(lastResponse.getHeader('Sharebox-File-Id'), fileId, 'so does the answer to the final POST');

  await assertStoredFile(server, key, {
    fileId,
    uploadUrl: upload.url,
    data,
    name: 'parallel.bin',
    contentType: 'application/x-sharebox-test',
  });
  const files = await getJson(server, key, '/files');
  assert.deepEqual(
    files.map((f) => [f.id, f.name, f.size]),
    [[fileId, 'parallel.bin', data.length]],
    'exactly one file: the partial uploads are not files',
  );
});

// ---------------------------------------------------------------------------------------------
// 4. checksums

aliceTest('tus-js-client PATCHes with Upload-Checksum in sha1, md5 and sha256', async ({ server, key }) => {
  const data = randomBytes(2 * MiB + 512 * KiB + 333);
  const chunkSize = 512 * KiB;
  const algorithms = ['sha1', 'md5', 'sha256'];
  let n = 0;
  // tus-js-client has no checksum option: its onBeforeRequest hook sees each PATCH before it is
  // sent, and the chunk is data[Upload-Offset, Upload-Offset + chunkSize).
  const addChecksum = (req) => {
    if (req.getMethod() !== 'PATCH') return;
    const offset = Number(req.getHeader('Upload-Offset'));
    const chunk = data.subarray(offset, Math.min(offset + chunkSize, data.length));
    const alg = algorithms[n++ % algorithms.length];
    req.setHeader('Upload-Checksum', `${alg} ${digest(alg, chunk)}`);
  };
  const { upload, lastResponse, log } = await runUpload(
    data,
    tusOptions(server, key, { chunkSize, metadata: { filename: 'summed.bin' }, onBeforeRequest: addChecksum }),
  );
  const patches = log.filter((r) => r.method === 'PATCH');
  assert.equal(patches.length, 6, 'six PATCH requests');
  for (const p of patches) assert.equal(p.status, 204, `PATCH with ${p.checksum}`);
  assert.deepEqual(
    new Set(patches.map((p) => p.checksum.split(' ')[0])),
    new Set(algorithms),
    'every algorithm was used',
  );
  const fileId = lastResponse.getHeader('Sharebox-File-Id');
  assert.ok(fileId, 'the final PATCH answer carries Sharebox-File-Id');
  await assertStoredFile(server, key, { fileId, uploadUrl: upload.url, data, name: 'summed.bin' });
});

aliceTest('tus-js-client gets 460 for a wrong Upload-Checksum and the offset stays', async ({ server, key }) => {
  const data = randomBytes(300 * KiB);
  const { upload, done, log } = startUpload(
    data,
    tusOptions(server, key, {
      chunkSize: 100 * KiB,
      metadata: { filename: 'bad.bin' },
      onBeforeRequest: (req) => {
        if (req.getMethod() === 'PATCH') req.setHeader('Upload-Checksum', `sha1 ${digest('sha1', 'not the chunk')}`);
      },
    }),
  );
  upload.start();
  const err = await done.then(
    () => assert.fail('the upload succeeded with wrong checksums'),
    (e) => e,
  );
  assert.equal(err.originalResponse?.getStatus(), 460, `tus-js-client's error: ${err.message}`);
  assert.deepEqual(
    log.map((r) => [r.method, r.status]),
    [
      ['POST', 201],
      ['PATCH', 460],
    ],
    'no retry of a 460',
  );
  await assertOffset(upload.url, key, 0, 'after the 460');
  assert.deepEqual(await getJson(server, key, '/files'), [], 'no file');
});

aliceTest('Upload-Checksum by hand: 204 when right, 460 when wrong, 400 for an unknown algorithm', async ({ server, key }) => {
  const part = 64 * KiB;
  const data = randomBytes(3 * part);
  const [c0, c1, c2] = [0, 1, 2].map((i) => data.subarray(i * part, (i + 1) * part));
  const { url } = await createUpload(server, key, data.length, { filename: 'byhand.bin' });
  await assertOffset(url, key, 0, 'of a new upload');

  let res = await patch(url, key, 0, c0, { 'Upload-Checksum': `sha256 ${digest('sha256', c0)}` });
  assertStatus(res, 204, 'PATCH with a right sha256');
  assert.equal(res.headers['upload-offset'], String(part), 'offset after chunk 0');
  assert.equal(res.headers['tus-resumable'], '1.0.0', 'Tus-Resumable on PATCH answers');
  assert.ok(res.headers['upload-expires'], 'PATCH answers carry Upload-Expires (expiration extension)');
  assert.ok(Date.parse(res.headers['upload-expires']) > Date.now(), `Upload-Expires ${res.headers['upload-expires']}`);

  res = await patch(url, key, part, c1, { 'Upload-Checksum': `sha256 ${digest('sha256', c0)}` });
  assertStatus(res, 460, 'PATCH with a wrong sha256');
  await assertOffset(url, key, part, 'after a wrong sha256');

  res = await patch(url, key, part, c1, { 'Upload-Checksum': `sha1 ${digest('sha1', c2)}` });
  assertStatus(res, 460, 'PATCH with a wrong sha1');
  await assertOffset(url, key, part, 'after a wrong sha1');

  res = await patch(url, key, part, c1, { 'Upload-Checksum': `sha1 ${digest('sha1', c1)}` });
  assertStatus(res, 204, 'PATCH with a right sha1');
  assert.equal(res.headers['upload-offset'], String(2 * part), 'offset after chunk 1');

  res = await patch(url, key, 2 * part, c2, { 'Upload-Checksum': `md5 ${digest('md5', c1)}` });
  assertStatus(res, 460, 'PATCH with a wrong md5');
  await assertOffset(url, key, 2 * part, 'after a wrong md5');

  res = await patch(url, key, 2 * part, c2, { 'Upload-Checksum': `nosuchalgorithm ${digest('md5', c2)}` });
  assertStatus(res, 400, 'PATCH with an unsupported checksum algorithm');
  await assertOffset(url, key, 2 * part, 'after an unsupported algorithm');
  assert.deepEqual(await getJson(server, key, '/files'), [], 'no file before the last chunk');

  res = await patch(url, key, 2 * part, c2, { 'Upload-Checksum': `md5 ${digest('md5', c2)}` });
  assertStatus(res, 204, 'PATCH with a right md5');
  assert.equal(res.headers['upload-offset'], String(data.length), 'offset after the last chunk');
  const fileId = res.headers['sharebox-file-id'];
  assert.ok(fileId, 'the last PATCH answer carries Sharebox-File-Id');
  await assertStoredFile(server, key, { fileId, uploadUrl: url, data, name: 'byhand.bin' });
});

// ---------------------------------------------------------------------------------------------
// 5. CORS

const ORIGIN = 'http://app.example';

function assertListed(list, item, what, wildcardOk = true) {
  const values = headerList(list);
  assert.ok(
    values.includes(item.toLowerCase()) || (wildcardOk && values.includes('*')),
    `${what} lacks ${item}: ${JSON.stringify(list)}`,
  );
}

async function preflight(url, origin, method, requestHeaders) {
  return request('OPTIONS', url, {
    headers: {
      Origin: origin,
      'Access-Control-Request-Method': method,
      'Access-Control-Request-Headers': requestHeaders,
    },
  });
}

function assertPreflightAllows(res, method, requestHeaders, what) {
  assert.ok(res.status >= 200 && res.status < 300, `${what}: preflight status: ${describeResponse(res)}`);
  assert.equal(res.headers['access-control-allow-origin'], ORIGIN, `${what}: Access-Control-Allow-Origin`);
  if (!['GET', 'HEAD', 'POST'].includes(method)) {
    assertListed(res.headers['access-control-allow-methods'], method, `${what}: Access-Control-Allow-Methods`);
  }
  for (const h of headerList(requestHeaders)) {
    // `*` never covers Authorization (Fetch standard).
    assertListed(res.headers['access-control-allow-headers'], h, `${what}: Access-Control-Allow-Headers`, h !== 'authorization');
  }
}

function assertExposes(res, names, what) {
  assert.equal(res.headers['access-control-allow-origin'], ORIGIN, `${what}: Access-Control-Allow-Origin`);
  const credentialed = res.headers['access-control-allow-credentials'] === 'true';
  for (const name of names) {
    assertListed(res.headers['access-control-expose-headers'], name, `${what}: Access-Control-Expose-Headers`, !credentialed);
  }
}

aliceTest(
  'CORS: preflights and tus answers for an allowed origin, nothing for another',
  async ({ server, key }) => {
    const origin = { Origin: ORIGIN };
    const creationHeaders = 'authorization, tus-resumable, upload-length, upload-metadata';
    const patchHeaders = 'tus-resumable, upload-offset, content-type, authorization';

    // Preflights carry no credentials: they must succeed without a key.
    assertPreflightAllows(await preflight(server.tusUrl, ORIGIN, 'POST', creationHeaders), 'POST', creationHeaders, 'POST /tus/');
    assertPreflightAllows(await preflight(server.tusUrl, ORIGIN, 'PATCH', patchHeaders), 'PATCH', patchHeaders, 'PATCH /tus/');

    // Creation from the allowed origin: Location must be readable by the page.
    const data = randomBytes(100 * KiB);
    const created = await request('POST', server.tusUrl, {
      headers: {
        ...origin,
        ...tusHeaders(key),
        'Upload-Length': String(data.length),
        'Upload-Metadata': `filename ${b64('cors.bin')}`,
      },
    });
    assertStatus(created, 201, 'POST /tus/ from the allowed origin');
    assertExposes(created, ['Location', 'Tus-Resumable', 'Upload-Offset', 'Upload-Length', 'Sharebox-File-Id'], 'creation');
    const url = new URL(created.headers.location, server.tusUrl).toString();

    // The upload URL itself is preflighted for PATCH, HEAD and DELETE.
    assertPreflightAllows(await preflight(url, ORIGIN, 'PATCH', patchHeaders), 'PATCH', patchHeaders, 'PATCH upload URL');
    assertPreflightAllows(
      await preflight(url, ORIGIN, 'HEAD', 'authorization, tus-resumable'),
      'HEAD',
      'authorization, tus-resumable',
      'HEAD upload URL',
    );
    assertPreflightAllows(
      await preflight(url, ORIGIN, 'DELETE', 'authorization, tus-resumable'),
      'DELETE',
      'authorization, tus-resumable',
      'DELETE upload URL',
    );

    let res = await request('HEAD', url, { headers: { ...origin, ...tusHeaders(key) } });
    assertStatus(res, 200, 'HEAD from the allowed origin');
    assertExposes(res, ['Upload-Offset', 'Upload-Length', 'Tus-Resumable'], 'HEAD');

    res = await request('PATCH', url, {
      headers: {
        ...origin,
        ...tusHeaders(key),
        'Content-Type': 'application/offset+octet-stream',
        'Upload-Offset': '0',
      },
      body: data,
    });
    assertStatus(res, 204, 'PATCH from the allowed origin');
    assertExposes(res, ['Upload-Offset', 'Tus-Resumable', 'Sharebox-File-Id'], 'PATCH');
    const fileId = res.headers['sharebox-file-id'];
    assert.ok(fileId, 'the last PATCH answer carries Sharebox-File-Id');
    await assertStoredFile(server, key, { fileId, uploadUrl: url, data, name: 'cors.bin' });

    // Errors must be readable too: tus-js-client in a browser decides what to do from a HEAD's
    // 404 (start a new upload); without CORS headers it sees a network error instead.
    res = await request('HEAD', `${server.tusUrl}doesnotexist0000000000`, { headers: { ...origin, ...tusHeaders(key) } });
    assertStatus(res, [404, 410], 'HEAD of an unknown upload');
    assert.equal(res.headers['access-control-allow-origin'], ORIGIN, 'Access-Control-Allow-Origin on a 404');

    // Another origin gets no CORS grant, neither on a preflight nor on a request.
    const other = 'http://evil.example';
    res = await preflight(server.tusUrl, other, 'PATCH', patchHeaders);
    assert.equal(res.headers['access-control-allow-origin'], undefined, `preflight from ${other}: ${describeResponse(res)}`);
    res = await preflight(url, other, 'PATCH', patchHeaders);
    assert.equal(res.headers['access-control-allow-origin'], undefined, `preflight from ${other}: ${describeResponse(res)}`);
    res = await request('HEAD', url, { headers: { Origin: other, ...tusHeaders(key) } });
    assert.equal(res.headers['access-control-allow-origin'], undefined, `HEAD from ${other}: ${describeResponse(res)}`);
    res = await request('POST', server.tusUrl, {
      headers: { Origin: other, ...tusHeaders(key), 'Upload-Length': '1' },
    });
    assert.equal(res.headers['access-control-allow-origin'], undefined, `POST from ${other}: ${describeResponse(res)}`);
  },
  { args: ['--cors-origins', ORIGIN] },
);

// ---------------------------------------------------------------------------------------------
// other extensions

aliceTest('creation-with-upload: data in the POST, an empty file finished by its POST', async ({ server, key }) => {
  // A small file sent whole in the creation request.
  const small = randomBytes(100 * KiB + 1);
  let r = await runUpload(
    small,
    tusOptions(server, key, { uploadDataDuringCreation: true, metadata: { filename: 'small.bin' } }),
  );
  assert.deepEqual(
    r.log.map((x) => [x.method, x.status]),
    [['POST', 201]],
    'one request: the POST carried the data',
  );
  assert.equal(r.lastResponse.getHeader('Upload-Offset'), String(small.length), 'the POST answer has Upload-Offset');
  let fileId = r.lastResponse.getHeader('Sharebox-File-Id');
  assert.ok(fileId, 'the POST answer carries Sharebox-File-Id');
  await assertStoredFile(server, key, { fileId, uploadUrl: r.upload.url, data: small, name: 'small.bin' });

  // A larger one: the first chunk in the POST, the rest by PATCH.
  const big = randomBytes(2 * MiB + 512 * KiB);
  r = await runUpload(
    big,
    tusOptions(server, key, { uploadDataDuringCreation: true, chunkSize: MiB, metadata: { filename: 'big.bin' } }),
  );
  assert.deepEqual(
    r.log.map((x) => [x.method, x.offset, x.status]),
    [
      ['POST', undefined, 201],
      ['PATCH', String(MiB), 204],
      ['PATCH', String(2 * MiB), 204],
    ],
    'POST with the first chunk, then PATCHes',
  );
  fileId = r.lastResponse.getHeader('Sharebox-File-Id');
  assert.ok(fileId, 'the last PATCH answer carries Sharebox-File-Id');
  await assertStoredFile(server, key, { fileId, uploadUrl: r.upload.url, data: big, name: 'big.bin' });

  // An empty file: tus-js-client sends only the POST (Upload-Length: 0) and calls it done.
  const empty = Buffer.alloc(0);
  r = await runUpload(empty, tusOptions(server, key, { metadata: { filename: 'empty.bin' } }));
  assert.deepEqual(
    r.log.map((x) => [x.method, x.length, x.status]),
    [['POST', '0', 201]],
    'one POST',
  );
  fileId = r.lastResponse.getHeader('Sharebox-File-Id');
  assert.ok(fileId, 'the POST of an empty upload carries Sharebox-File-Id: it is complete');
  await assertStoredFile(server, key, { fileId, uploadUrl: r.upload.url, data: empty, name: 'empty.bin' });

  const names = (await getJson(server, key, '/files')).map((f) => f.name).sort();
  assert.deepEqual(names, ['big.bin', 'empty.bin', 'small.bin'], 'three files');
});

aliceTest('creation-defer-length: a stream of unknown length', async ({ server, key }) => {
  const data = randomBytes(2 * MiB + 512 * KiB + 17);
  const pieces = [];
  for (let i = 0; i < data.length; i += 100 * KiB) pieces.push(data.subarray(i, i + 100 * KiB));
  const stream = Readable.from(pieces, { objectMode: false });
  const { upload, lastResponse, log } = await runUpload(
    stream,
    tusOptions(server, key, { uploadLengthDeferred: true, chunkSize: MiB, metadata: { filename: 'stream.bin' } }),
  );
  const post = log.find((r) => r.method === 'POST');
  assert.equal(post.deferLength, '1', 'the POST has Upload-Defer-Length: 1');
  assert.equal(post.length, undefined, 'and no Upload-Length');
  const withLength = log.filter((r) => r.method === 'PATCH' && r.length !== undefined);
  assert.equal(withLength.length, 1, 'one PATCH declares the length');
  assert.equal(withLength[0].length, String(data.length), 'Upload-Length in that PATCH');
  for (const r of log) assert.ok(r.status === 201 || r.status === 204, `${r.method} at ${r.offset}: ${r.status}`);
  const fileId = lastResponse.getHeader('Sharebox-File-Id');
  assert.ok(fileId, 'the last PATCH answer carries Sharebox-File-Id');
  await assertStoredFile(server, key, { fileId, uploadUrl: upload.url, data, name: 'stream.bin' });
});

aliceTest('termination: abort(true) deletes the upload', async ({ server, key }) => {
  const data = randomBytes(4 * MiB);
  let chunks = 0;
  let resolveTerminated;
  let rejectTerminated;
  const terminated = new Promise((resolve, reject) => {
    resolveTerminated = resolve;
    rejectTerminated = reject;
  });
  const { upload, done, log } = startUpload(
    data,
    tusOptions(server, key, {
      chunkSize: MiB,
      metadata: { filename: 'gone.bin' },
      onChunkComplete: () => {
        if (++chunks === 1) upload.abort(true).then(resolveTerminated, rejectTerminated);
      },
    }),
  );
  upload.start();
  await Promise.race([
    terminated,
    done.then(
      () => assert.fail('finished instead of being terminated'),
      (err) => assert.fail(`failed before being terminated: ${err}`),
    ),
  ]);
  assert.ok(upload.url, 'an upload was created');
  const del = log.find((r) => r.method === 'DELETE');
  assert.ok(del, 'tus-js-client sent a DELETE');
  assert.equal(del.status, 204, 'DELETE answers 204');
  const h = await head(upload.url, key);
  assertStatus(h, [404, 410], 'HEAD on a terminated upload');
  assert.equal(h.headers['upload-offset'], undefined, 'no Upload-Offset on a terminated upload');
  const p = await patch(upload.url, key, MiB, data.subarray(MiB, 2 * MiB));
  assertStatus(p, [404, 410], 'PATCH on a terminated upload');
  assert.deepEqual(await getJson(server, key, '/files'), [], 'no file');
});

// ---------------------------------------------------------------------------------------------
// protocol errors and authorization

aliceTest('protocol errors: 412, 409, 415, 404 and uploads private to their creator', async ({ server, key }) => {
  const bob = await server.addUser('bob');
  const data = randomBytes(10 * KiB);
  const { url } = await createUpload(server, key, data.length, { filename: 'private.bin' });

  let res = await request('POST', server.tusUrl, {
    headers: { ...auth(key), 'Tus-Resumable': '0.2.2', 'Upload-Length': '10' },
  });
  assertStatus(res, 412, 'POST with an unsupported Tus-Resumable');
  assert.ok(headerList(res.headers['tus-version']).includes('1.0.0'), 'the 412 lists Tus-Version');

  res = await patch(url, key, 5, data.subarray(5));
  assertStatus(res, 409, 'PATCH at the wrong offset');
  res = await patch(url, key, 0, data, { 'Content-Type': 'application/octet-stream' });
  assertStatus(res, 415, 'PATCH with the wrong Content-Type');
  await assertOffset(url, key, 0, 'after rejected PATCHes');

  res = await request('HEAD', url, { headers: { 'Tus-Resumable': '1.0.0' } });
  assertStatus(res, 401, 'HEAD without a key');
  res = await head(url, bob);
  assertStatus(res, 404, "HEAD on alice's upload by bob");
  assert.equal(res.headers['upload-offset'], undefined, 'no Upload-Offset for bob');
  res = await patch(url, bob, 0, data);
  assertStatus(res, 404, "PATCH on alice's upload by bob");
  res = await request('DELETE', url, { headers: tusHeaders(bob) });
  assertStatus(res, 404, "DELETE of alice's upload by bob");
  res = await head(`${server.tusUrl}doesnotexist0000000000`, key);
  assertStatus(res, [404, 410], 'HEAD of an unknown upload');

  res = await patch(url, key, 0, data);
  assertStatus(res, 204, "alice's PATCH");
  const fileId = res.headers['sharebox-file-id'];
  assert.ok(fileId, 'Sharebox-File-Id');
  await assertStoredFile(server, key, { fileId, uploadUrl: url, data, name: 'private.bin' });
  res = await request('GET', url, { headers: auth(bob) });
  assertStatus(res, 404, "GET of alice's finished upload by bob");
  assert.deepEqual(await getJson(server, bob, '/files'), [], 'bob sees no file');
});
