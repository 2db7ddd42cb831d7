// End-to-end test of the browser app (web/, served at /) in a real headless Chromium driven by
// playwright-core, against the real sharebox binary: sign-in with an API key, image intake over
// the WebSocket (accepted, perceptual duplicate, not an image), thumbnails, sharing with live
// updates and notifications on the other user's page, sign-out, and a tus upload that resumes
// after a failed PATCH.
//
// Run: cd tests/e2e && npm ci && SHAREBOX_BINARY=../../build/sharebox node --test app.test.mjs
// CHROMIUM picks the browser (default /usr/bin/chromium; no browser is downloaded).
// Screenshots go to $E2E_ARTIFACTS (default tests/e2e/artifacts/).
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

import { startServer } from './sharebox.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const ARTIFACTS = process.env.E2E_ARTIFACTS || path.join(here, 'artifacts');
const WAIT = 15_000; // the longest any single step may take
const TEST_TIMEOUT = 60_000;

let server;
let browser;
const keys = {};

before(async () => {
  await mkdir(ARTIFACTS, { recursive: true });
  server = await startServer();
  for (const name of ['alice', 'bob', 'carol', 'dave', 'erin']) keys[name] = await server.addUser(name);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

after(async () => {
  await browser?.close();
  if (server) await server.stop();
});

// ---------------------------------------------------------------------------------------------
// helpers

// Retries fn until it stops throwing, for at most `timeout` ms; the last failure explains.
async function eventually(what, fn, timeout = WAIT) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const logs = server ? `\n${server.logs()}` : '';
      throw new Error(`${what}: not within ${timeout} ms: ${last?.message}${logs}`);
    }
    await sleep(100);
  }
}

async function shot(page, name, { fullPage = true } = {}) {
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage });
}

// A new browser context (its own cookie jar) with a page on the app. Console errors, page errors
// and CSP violations are collected in page.problems.
async function openApp() {
  const context = await browser.newContext({ viewport: { width: 1200, height: 860 } });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.problems = [];
  page.on('pageerror', (err) => page.problems.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') page.problems.push(`console: ${msg.text()}`);
  });
  await page.goto(server.url('/'));
  return page;
}

// Console errors that are expected: Chromium logs every 401 (GET /auth/session before sign-in
// and after sign-out answers 401 by design) and 404 (a missing thumbnail falls back to an icon).
function unexpectedProblems(page) {
  return page.problems.filter((p) => !/Failed to load resource: the server responded with a status of 40[14]/.test(p));
}

async function signIn(page, name) {
  await page.locator('#signin-form').waitFor();
  await page.getByLabel('API key').fill(keys[name]);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await eventually(`${name}'s name in the header`, async () => {
    assert.equal(await page.locator('#user-name').textContent(), name);
  });
  assert.equal(await page.locator('#api-key').inputValue(), '', 'the key field is cleared');
  assert.ok(await page.locator('#app-section').isVisible(), 'the app is shown');
}

async function uploadState(page, name) {
  const li = page.locator(`li.upload-item[data-name="${name}"]`);
  return {
    state: await li.getAttribute('data-state'),
    code: await li.getAttribute('data-code'),
    verdict: (await li.locator('.verdict').textContent()).trim(),
  };
}

async function waitForVerdict(page, name, state) {
  return eventually(`${name} ${state}`, async () => {
    const s = await uploadState(page, name);
    assert.equal(s.state, state, `${name}: ${JSON.stringify(s)}`);
    return s;
  });
}

// Drops the files that `build` (run in the page, async, returning File[]) makes onto #drop-zone
// with real drag events carrying a DataTransfer.
async function dropFiles(page, build, arg) {
  // Two steps rather than eval in the page: the app's CSP rightly forbids it.
  const files = await page.evaluateHandle(build, arg);
  const dataTransfer = await page.evaluateHandle((list) => {
    const dt = new DataTransfer();
    for (const f of list) dt.items.add(f);
    return dt;
  }, files);
  for (const type of ['dragenter', 'dragover', 'drop']) {
    await page.dispatchEvent('#drop-zone', type, { dataTransfer });
  }
  await dataTransfer.dispose();
  await files.dispose();
}

// Runs in the page: 600x400 drawings as Files. 'a' and 'b' look nothing alike.
async function drawings(specs) {
  const draw = (variant) => {
    const c = document.createElement('canvas');
    c.width = 600;
    c.height = 400;
    const g = c.getContext('2d');
    if (variant === 'a') {
      g.fillStyle = '#ffffff';
      g.fillRect(0, 0, 600, 400);
      g.fillStyle = '#1b2a6b';
      g.beginPath();
      g.arc(160, 200, 120, 0, Math.PI * 2);
      g.fill();
      g.fillStyle = '#c0392b';
      g.fillRect(340, 50, 200, 140);
      g.fillStyle = '#27ae60';
      g.beginPath();
      g.moveTo(340, 360);
      g.lineTo(560, 360);
      g.lineTo(450, 220);
      g.closePath();
      g.fill();
    } else {
      for (let y = 0; y < 4; y++) {
        for (let x = 0; x < 6; x++) {
          g.fillStyle = (x + y) % 2 ? '#f5d142' : '#202020';
          g.fillRect(x * 100, y * 100, 100, 100);
        }
      }
      g.strokeStyle = '#ffffff';
      g.lineWidth = 18;
      g.beginPath();
      g.moveTo(0, 400);
      g.lineTo(600, 0);
      g.stroke();
    }
    return c;
  };
  const out = [];
  for (const { name, variant, type, text } of specs) {
    if (text !== undefined) {
      out.push(new File([text], name, { type }));
      continue;
    }
    const blob = await new Promise((resolve) => draw(variant).toBlob(resolve, type, 0.92));
    out.push(new File([blob], name, { type }));
  }
  return out;
}

async function thumbnailLoaded(page, name) {
  return eventually(`thumbnail of ${name}`, async () => {
    const img = page.locator(`tr.file-row[data-name="${name}"] img.thumb`);
    const info = await img.evaluate((el) => ({
      complete: el.complete,
      width: el.naturalWidth,
      missing: el.classList.contains('thumb-missing'),
      src: el.currentSrc,
    }));
    assert.ok(!info.missing, `${name}: the thumbnail failed to load (${info.src})`);
    assert.ok(info.complete && info.width > 0, `${name}: thumbnail not loaded: ${JSON.stringify(info)}`);
    assert.match(info.src, /\/files\/[^/]+\/thumbnail$/);
    return info;
  });
}

// ---------------------------------------------------------------------------------------------

test('sign in, image intake verdicts, thumbnails, live sharing, sign out', { timeout: TEST_TIMEOUT }, async () => {
  const alice = await openApp();
  await alice.locator('#signin-form').waitFor();
  await shot(alice, '01-signin');
  await signIn(alice, 'alice');
  assert.equal(await alice.evaluate(() => JSON.stringify(localStorage)).then((s) => s.includes(keys.alice)), false,
    'the key is not in localStorage');

  const sockets = [];
  alice.on('websocket', (ws) => {
    const entry = { url: ws.url(), binaryFrames: 0, announced: [] };
    sockets.push(entry);
    ws.on('framesent', (f) => {
      if (typeof f.payload === 'string') {
        const m = JSON.parse(f.payload);
        if (m.type === 'file') entry.announced.push(m.name);
      } else {
        entry.binaryFrames++;
      }
    });
  });
  const tusRequests = [];
  alice.on('request', (r) => {
    if (new URL(r.url()).pathname.startsWith('/tus/')) tusRequests.push(`${r.method()} ${r.url()}`);
  });

  // Three files at once: an image, the same drawing re-encoded as PNG, and text named .jpg.
  await dropFiles(alice, drawings, [
    { name: 'drawing-a.jpg', variant: 'a', type: 'image/jpeg' },
    { name: 'drawing-a.png', variant: 'a', type: 'image/png' },
    { name: 'notes.jpg', type: 'image/jpeg', text: 'These are my notes, not a picture.\n'.repeat(20) },
  ]);
  const a = await waitForVerdict(alice, 'drawing-a.jpg', 'accepted');
  assert.match(a.verdict, /accepted/i);
  const dup = await waitForVerdict(alice, 'drawing-a.png', 'rejected');
  assert.equal(dup.code, 'duplicate', JSON.stringify(dup));
  assert.ok(dup.verdict.length > 3, `the duplicate's message is shown: ${JSON.stringify(dup)}`);
  const notes = await waitForVerdict(alice, 'notes.jpg', 'rejected');
  assert.equal(notes.code, 'unsupported_type', JSON.stringify(notes));
  assert.ok(notes.verdict.length > 3, `the message is shown: ${JSON.stringify(notes)}`);

  // A different picture is accepted.
  await dropFiles(alice, drawings, [{ name: 'drawing-b.jpg', variant: 'b', type: 'image/jpeg' }]);
  await waitForVerdict(alice, 'drawing-b.jpg', 'accepted');
  assert.equal(await alice.locator('li.upload-item[data-state="accepted"]').count(), 2);

  const intake = sockets.filter((s) => new URL(s.url).pathname === '/ws/intake');
  assert.ok(intake.length >= 1, `an intake socket was opened: ${JSON.stringify(sockets)}`);
  assert.deepEqual(intake.flatMap((s) => s.announced),
    ['drawing-a.jpg', 'drawing-a.png', 'notes.jpg', 'drawing-b.jpg']);
  assert.ok(intake.reduce((n, s) => n + s.binaryFrames, 0) >= 4, 'bytes went in binary frames');
  assert.deepEqual(tusRequests, [], 'images do not go through tus');

  // The accepted images are listed with thumbnails that loaded; the rejected ones are not.
  for (const name of ['drawing-a.jpg', 'drawing-b.jpg']) {
    await alice.locator(`tr.file-row[data-name="${name}"]`).waitFor();
    await thumbnailLoaded(alice, name);
  }
  assert.equal(await alice.locator('tr.file-row[data-name="drawing-a.png"]').count(), 0);
  assert.equal(await alice.locator('tr.file-row[data-name="notes.jpg"]').count(), 0);
  await shot(alice, '02-alice-intake-verdicts');

  // Bob signs in in his own context; nothing of alice's is visible to him yet.
  const bob = await openApp();
  await signIn(bob, 'bob');
  await eventually('bob\'s live feed', async () => {
    assert.equal(await bob.locator('#live-status').getAttribute('data-state'), 'live');
  });
  assert.equal(await bob.locator('tr.file-row').count(), 0);
  assert.ok(await bob.locator('#notification-badge').isHidden(), 'no unread notifications yet');
  await bob.evaluate(() => {
    window.sameDocument = true; // gone if the page reloads
  });

  // Alice shares drawing-a.jpg with bob (read) through the dialog.
  const row = alice.locator('tr.file-row[data-name="drawing-a.jpg"]');
  await row.locator('button.share').click();
  const dialog = alice.locator('#share-dialog');
  await dialog.waitFor();
  assert.equal(await alice.evaluate(() => document.activeElement?.id), 'share-user', 'focus moves into the dialog');
  await alice.getByLabel('User name').fill('bob');
  await alice.getByLabel('Permission').selectOption('read');
  await dialog.getByRole('button', { name: 'Share', exact: true }).click();
  await dialog.locator('li.share-entry[data-user="bob"]').waitFor();
  assert.equal(await dialog.locator('li.share-entry[data-user="bob"]').getAttribute('data-permission'), 'read');
  await shot(alice, '03-alice-share-dialog', { fullPage: false }); // a modal: the viewport
  await dialog.getByRole('button', { name: 'Close' }).click();
  await dialog.waitFor({ state: 'hidden' });
  await eventually('the row lists bob', async () => {
    assert.match(await row.locator('.col-shared').textContent(), /bob \(read\)/);
  });

  // Bob's page shows the file and the notification without a reload.
  const bobRow = bob.locator('tr.file-row[data-name="drawing-a.jpg"]');
  await bobRow.waitFor();
  await eventually('bob\'s unread badge', async () => {
    assert.ok(await bob.locator('#notification-badge').isVisible());
    assert.equal((await bob.locator('#notification-badge').textContent()).trim(), '1');
  });
  assert.equal(await bob.evaluate(() => window.sameDocument), true, 'bob\'s page was not reloaded');
  assert.equal(await bobRow.locator('button.share').count(), 0, 'only the owner can share');
  assert.equal(await bobRow.locator('button.delete').count(), 0, 'only the owner can delete');
  assert.match(await bobRow.locator('.col-owner').textContent(), /alice/);
  await thumbnailLoaded(bob, 'drawing-a.jpg');
  assert.equal(await bob.locator('tr.file-row[data-name="drawing-b.jpg"]').count(), 0);

  // His notification panel lists it; marking it read clears the badge.
  await bob.locator('#notifications-button').click();
  const note = bob.locator('#notification-list li.notification').first();
  await note.waitFor();
  assert.equal(await note.getAttribute('data-read'), 'false');
  assert.match(await note.textContent(), /drawing-a\.jpg/);
  await shot(bob, '04-bob-live-share-notification');
  await note.locator('button.mark-read').click();
  await eventually('badge cleared', async () => {
    assert.ok(await bob.locator('#notification-badge').isHidden());
  });

  // Sign out: the cookie is gone for the page.
  await alice.locator('#signout-button').click();
  await alice.locator('#signin-form').waitFor();
  const status = await alice.evaluate(async () => (await fetch('/auth/session')).status);
  assert.equal(status, 401, 'GET /auth/session after sign-out');
  assert.equal(await alice.locator('tr.file-row').count(), 0, 'nothing of alice\'s is left on the page');
  await shot(alice, '05-alice-signed-out');

  assert.deepEqual(unexpectedProblems(alice), [], 'alice\'s page logged no errors');
  assert.deepEqual(unexpectedProblems(bob), [], 'bob\'s page logged no errors');
  await alice.context().close();
  await bob.context().close();
});

test('a non-image file goes through tus with progress, resumes after a failed PATCH, and is listed', { timeout: TEST_TIMEOUT }, async () => {
  const page = await openApp();
  await signIn(page, 'carol');

  const tus = [];
  page.on('request', (r) => {
    if (new URL(r.url()).pathname.startsWith('/tus/')) tus.push(r.method());
  });
  // The first PATCH dies as over a broken connection: the client must ask where the upload
  // stands (HEAD) and go on.
  let broken = false;
  await page.route('**/tus/**', (route) => {
    if (!broken && route.request().method() === 'PATCH') {
      broken = true;
      return route.abort('connectionreset');
    }
    return route.continue();
  });

  // Progress values the bar went through.
  await page.evaluate(() => {
    window.progressSeen = [];
    new MutationObserver((records) => {
      for (const r of records) {
        if (r.target instanceof HTMLProgressElement && r.target.closest('li[data-name="data.bin"]')) {
          window.progressSeen.push(Number(r.target.value));
        }
      }
    }).observe(document.querySelector('#upload-list'), { subtree: true, attributes: true, attributeFilter: ['value'] });
  });

  // Loopback is too fast to see a bar move: ~4 MiB/s up makes the 3 MiB PATCH take most of a
  // second, during which the XHR's upload progress must show.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: 4 * 1024 * 1024,
  });

  const SIZE = 3 * 1024 * 1024;
  await dropFiles(
    page,
    async (size) => {
      const bytes = new Uint8Array(size);
      for (let i = 0; i < size; i += 65536) crypto.getRandomValues(bytes.subarray(i, Math.min(size, i + 65536)));
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
      window.expectedSha256 = Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
      return [new File([bytes], 'data.bin', { type: 'application/octet-stream' })];
    },
    SIZE,
  );
  const s = await waitForVerdict(page, 'data.bin', 'accepted');
  assert.match(s.verdict, /uploaded/i);
  const bar = page.locator('li.upload-item[data-name="data.bin"] progress');
  assert.equal(Number(await bar.getAttribute('value')), SIZE, 'the progress bar is full');
  assert.equal(Number(await bar.getAttribute('max')), SIZE);
  const seen = await page.evaluate(() => window.progressSeen);
  assert.equal(seen.at(-1), SIZE, `progress ends full: ${JSON.stringify(seen)}`);
  assert.ok(seen.some((v) => v > 0 && v < SIZE), `progress moved in between: ${JSON.stringify(seen)}`);
  assert.equal(broken, true, 'a PATCH was broken');
  assert.deepEqual(tus.slice(0, 4), ['POST', 'PATCH', 'HEAD', 'PATCH'], `tus requests: ${tus.join(' ')}`);

  const row = page.locator('tr.file-row[data-name="data.bin"]');
  await row.waitFor();
  assert.equal((await row.locator('.col-size').textContent()).trim(), '3.0 MiB');
  assert.equal(await row.locator('img.thumb').count(), 0, 'no thumbnail for a non-image');
  const listed = await page.evaluate(async () => {
    const files = await (await fetch('/files')).json();
    const f = files.find((x) => x.name === 'data.bin');
    return { sha256: f?.sha256, size: f?.size, expected: window.expectedSha256, storage: Object.keys(localStorage) };
  });
  assert.equal(listed.size, SIZE);
  assert.equal(listed.sha256, listed.expected, 'the stored bytes are the dropped bytes');
  assert.deepEqual(listed.storage.filter((k) => k.startsWith('sharebox.tus:')), [], 'the finished upload is forgotten');
  await shot(page, '06-carol-tus-upload');

  // Delete, confirmed in the dialog, sends If-Match and the row goes away.
  await row.locator('button.delete').click();
  const confirm = page.locator('#confirm-dialog');
  await confirm.waitFor();
  assert.match(await confirm.textContent(), /data\.bin/);
  const deleted = page.waitForRequest((r) => r.method() === 'DELETE' && /\/files\//.test(r.url()));
  await confirm.getByRole('button', { name: 'Delete' }).click();
  assert.equal((await deleted).headers()['if-match'], '"1"');
  await row.waitFor({ state: 'detached' });

  assert.deepEqual(unexpectedProblems(page).filter((p) => !/ERR_CONNECTION_RESET|net::ERR_FAILED/.test(p)), []);
  await page.context().close();
});

test('a tus upload interrupted by a page reload resumes from the server\'s offset', { timeout: TEST_TIMEOUT }, async () => {
  const page = await openApp();
  await signIn(page, 'dave');
  const SIZE = 9 * 1024 * 1024; // two PATCHes of at most 8 MiB
  const FIRST = 8 * 1024 * 1024;
  const tus = [];
  page.on('request', (r) => {
    if (new URL(r.url()).pathname.startsWith('/tus/')) tus.push(`${r.method()} ${r.headers()['upload-offset'] ?? ''}`.trim());
  });
  // Every PATCH after the first 8 MiB dies: the upload stalls at 8 MiB acknowledged.
  const breakLater = (route) =>
    route.request().method() === 'PATCH' && route.request().headers()['upload-offset'] !== '0'
      ? route.abort('connectionreset')
      : route.continue();
  await page.route('**/tus/**', breakLater);

  // The same bytes, name and modification time both times: the same file for the app.
  const makeFile = async ({ size }) => {
    const bytes = new Uint8Array(size);
    let x = 0x2545f491;
    for (let i = 0; i < size; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      bytes[i] = x & 0xff;
    }
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
    window.expectedSha256 = Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
    return [new File([bytes], 'big.bin', { type: 'application/octet-stream', lastModified: 1_700_000_000_000 })];
  };
  await dropFiles(page, makeFile, { size: SIZE });
  await eventually('the second PATCH was broken', async () => {
    assert.ok(tus.includes(`PATCH ${FIRST}`), tus.join(', '));
  });
  const remembered = await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('sharebox.tus:')));
  assert.equal(remembered.length, 1, 'the upload URL is remembered');

  await page.unroute('**/tus/**', breakLater);
  await page.reload();
  await eventually('still signed in after the reload', async () => {
    assert.equal(await page.locator('#user-name').textContent(), 'dave');
  });
  tus.length = 0;
  await dropFiles(page, makeFile, { size: SIZE });
  await waitForVerdict(page, 'big.bin', 'accepted');
  assert.deepEqual(tus, ['HEAD', `PATCH ${FIRST}`], 'resumed at 8 MiB: no new upload, no byte sent twice');

  const listed = await page.evaluate(async () => {
    const files = await (await fetch('/files')).json();
    const f = files.find((x) => x.name === 'big.bin');
    return { sha256: f?.sha256, size: f?.size, expected: window.expectedSha256, storage: Object.keys(localStorage) };
  });
  assert.equal(listed.size, SIZE);
  assert.equal(listed.sha256, listed.expected, 'the stored bytes are the dropped bytes');
  assert.deepEqual(listed.storage.filter((k) => k.startsWith('sharebox.tus:')), []);
  await page.locator('tr.file-row[data-name="big.bin"]').waitFor();
  await shot(page, '07-dave-tus-resumed-after-reload');
  await page.context().close();
});

test('a failed upload keeps its file: Retry finishes it (intake connection lost, tus unreachable)', { timeout: TEST_TIMEOUT }, async () => {
  const page = await openApp();
  // The intake socket dies right after the server said `ready` for the first file.
  let breakNextReady = true;
  await page.routeWebSocket(/\/ws\/intake$/, (ws) => {
    const upstream = ws.connectToServer();
    upstream.onMessage((m) => {
      ws.send(m);
      if (breakNextReady && typeof m === 'string' && JSON.parse(m).type === 'ready') {
        breakNextReady = false;
        ws.close({ code: 1011, reason: 'test: connection lost' });
        upstream.close();
      }
    });
  });
  await signIn(page, 'erin');

  await dropFiles(page, drawings, [{ name: 'retry-me.jpg', variant: 'a', type: 'image/jpeg' }]);
  const lost = await waitForVerdict(page, 'retry-me.jpg', 'failed');
  assert.equal(lost.code, 'connection_lost', JSON.stringify(lost));
  assert.match(lost.verdict, /connection/i);
  const item = page.locator('li.upload-item[data-name="retry-me.jpg"]');
  await item.getByRole('button', { name: 'Retry retry-me.jpg' }).click();
  await waitForVerdict(page, 'retry-me.jpg', 'accepted');
  await page.locator('tr.file-row[data-name="retry-me.jpg"]').waitFor();

  // tus: every PATCH fails until the client gives up; Retry resumes the same upload.
  const tus = [];
  page.on('request', (r) => {
    if (new URL(r.url()).pathname.startsWith('/tus/')) tus.push(r.method());
  });
  const unreachable = (route) => (route.request().method() === 'PATCH' ? route.abort('internetdisconnected') : route.continue());
  await page.route('**/tus/**', unreachable);
  await dropFiles(page, () => [new File([new Uint8Array(200_000).fill(7)], 'report.pdf', { type: 'application/pdf' })]);
  const failed = await waitForVerdict(page, 'report.pdf', 'failed');
  assert.match(failed.verdict, /reach the server/i, JSON.stringify(failed));
  assert.equal(tus[0], 'POST');
  await shot(page, '08-erin-failed-uploads');
  await page.unroute('**/tus/**', unreachable);
  tus.length = 0;
  await page.locator('li.upload-item[data-name="report.pdf"] button.retry').click();
  await waitForVerdict(page, 'report.pdf', 'accepted');
  assert.deepEqual(tus, ['HEAD', 'PATCH'], 'Retry resumed the upload it had created');
  await page.locator('tr.file-row[data-name="report.pdf"]').waitFor();

  // Expected here: the network errors this test causes, and Chromium's note when a slice was
  // already queued as the test cut the intake socket (the page checks readyState before each
  // send, but the cut can land between the check and the browser's own state change).
  const expected = /ERR_INTERNET_DISCONNECTED|net::ERR_FAILED|WebSocket is already in CLOSING or CLOSED state/;
  assert.deepEqual(unexpectedProblems(page).filter((p) => !expected.test(p)), []);
  await page.context().close();
});
