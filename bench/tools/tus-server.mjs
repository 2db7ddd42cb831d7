// The anchor for tus uploads (issue 6, scenario 5b): the reference Node tus server, @tus/server
// with @tus/file-store, as its documentation sets it up. It neither hashes nor fsyncs.
// Usage: node tus-server.mjs DIRECTORY  -> prints "listening on http://127.0.0.1:PORT/files/"
import { FileStore } from '@tus/file-store';
import { Server } from '@tus/server';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: tus-server.mjs DIRECTORY');
  process.exit(2);
}
const server = new Server({ path: '/files', datastore: new FileStore({ directory: dir }) });
const listener = server.listen({ host: '127.0.0.1', port: 0 }, () => {
  console.log(`listening on http://127.0.0.1:${listener.address().port}/files/`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
