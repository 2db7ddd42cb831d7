// One tus upload with tus-js-client (issue 6, scenario 5b), timed from start() to onSuccess.
// Usage: node tus-upload.mjs ENDPOINT FILE [CHUNK_SIZE|Infinity] [--header 'Name: value']...
// Prints one JSON object: {bytes, seconds, bytes_per_s, url, chunk_size}.
import fs from 'node:fs';
import path from 'node:path';

import * as tus from 'tus-js-client';

const args = process.argv.slice(2);
const headers = {};
const pos = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--header') {
    const h = args[++i]; const c = h.indexOf(':');
    headers[h.slice(0, c).trim()] = h.slice(c + 1).trim();
  } else {
    pos.push(args[i]);
  }
}
const [endpoint, file, chunkArg = 'Infinity'] = pos;
if (!endpoint || !file) {
  console.error("usage: tus-upload.mjs ENDPOINT FILE [CHUNK_SIZE] [--header 'Name: value']...");
  process.exit(2);
}
const chunkSize = chunkArg === 'Infinity' ? Infinity : Number(chunkArg);
const size = fs.statSync(file).size;

const t0 = process.hrtime.bigint();
const upload = new tus.Upload(fs.createReadStream(file), {
  endpoint,
  headers,
  chunkSize,
  retryDelays: null,
  storeFingerprintForResuming: false,
  metadata: { filename: path.basename(file), filetype: 'application/octet-stream' },
  onError: (e) => {
    console.error(`tus upload failed: ${e.message ?? e}`);
    process.exit(1);
  },
  onSuccess: () => {
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    process.stdout.write(JSON.stringify({ bytes: size, seconds, bytes_per_s: size / seconds,
      url: upload.url, chunk_size: String(chunkSize) }) + '\n');
  },
});
upload.start();
