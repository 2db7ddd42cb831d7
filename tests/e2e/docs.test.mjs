// End-to-end test of the API documentation page (/docs: Swagger UI embedded in the binary,
// rendering /openapi.json) in a real headless Chromium driven by playwright-core, against the
// real sharebox binary: it renders every operation, requests nothing from anywhere but the
// server (no CDN, no validator badge), breaks no rule of the Content-Security-Policy it is
// served with, and "Try it out" reaches the same server, signed in by the app's cookie.
//
// Run: cd tests/e2e && npm ci && SHAREBOX_BINARY=../../build/sharebox node --test docs.test.mjs
// CHROMIUM picks the browser (default /usr/bin/chromium; no browser is downloaded).
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

import { request, startServer } from './sharebox.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const ARTIFACTS = process.env.E2E_ARTIFACTS || path.join(here, 'artifacts');
const WAIT = 20_000;

let server;
let browser;
let key;

before(async () => {
  await mkdir(ARTIFACTS, { recursive: true });
  server = await startServer();
  key = await server.addUser('alice');
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

// A page on /docs that records every request it makes and every error it logs (CSP violations
// are logged as console errors).
async function openDocs(context) {
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.requests = [];
  page.problems = [];
  page.on('request', (r) => page.requests.push(r.url()));
  page.on('pageerror', (err) => page.problems.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' || /Content.Security.Policy|Refused to/i.test(msg.text())) {
      page.problems.push(`console ${msg.type()}: ${msg.text()}`);
    }
  });
  await page.goto(server.url('/docs'));
  return page;
}

async function tryItOut(page, operation) {
  const block = page.locator(`#operations-${operation}`);
  await block.locator('.opblock-summary').first().click();
  await block.getByRole('button', { name: 'Try it out' }).click();
  await block.getByRole('button', { name: 'Execute' }).click();
  const status = block.locator('.live-responses-table .response .response-col_status').first();
  await status.waitFor();
  return (await status.textContent()).trim();
}

test('renders every operation from the server alone, within its CSP', { timeout: 60_000 }, async () => {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const page = await openDocs(context);
  await page.locator('.swagger-ui .info .title').filter({ hasText: 'sharebox' }).waitFor();
  const description = JSON.parse((await request('GET', server.url('/openapi.json'))).body);
  let operations = 0;
  for (const item of Object.values(description.paths)) {
    operations += Object.keys(item).filter((k) => k !== 'parameters').length;
  }
  await page.waitForFunction(
    (n) => document.querySelectorAll('.swagger-ui .opblock').length >= n,
    operations,
  );
  await page.screenshot({ path: path.join(ARTIFACTS, 'docs.png') });

  const base = server.url('/');
  const foreign = page.requests.filter((u) => !u.startsWith(base) && !/^(data|blob):/.test(u));
  assert.deepEqual(foreign, [], 'requests to anywhere but the server');
  assert.ok(page.requests.includes(server.url('/openapi.json')), 'the description was loaded');
  assert.deepEqual(page.problems, [], 'console errors or CSP violations');
  await context.close();
});

test('"Try it out" calls the same server, with the app\'s cookie', { timeout: 60_000 }, async () => {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const page = await openDocs(context);
  await page.locator('#operations-health-getHealth').waitFor();
  assert.equal(await tryItOut(page, 'health-getHealth'), '200');

  // Signed in to the app in this browser: the cookie authenticates requests from the docs too.
  const signIn = await context.request.post(server.url('/auth/session'), {
    data: { api_key: key },
    headers: { Origin: server.baseUrl },
  });
  assert.equal(signIn.status(), 201);
  assert.equal(await tryItOut(page, 'session-getSession'), '200');
  const body = await page
    .locator('#operations-session-getSession .live-responses-table .response-col_description pre')
    .first()
    .textContent();
  assert.match(body, /"user_id": "alice"/);
  assert.deepEqual(
    page.problems.filter((p) => !/status of 401/.test(p)),
    [],
    'console errors or CSP violations',
  );
  await context.close();
});
