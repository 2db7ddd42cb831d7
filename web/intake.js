// The image intake WebSocket (/ws/intake, docs/ws-intake.md): one socket, one file at a time.
// send(file) announces the file, waits for `ready` (or an early verdict), streams the bytes in
// binary frames without letting the socket's send buffer grow past HIGH_WATER, and resolves
// with the server's verdict message. A lost connection rejects with IntakeConnectionError; the
// next send() opens a new socket (a new intake session).

const SLICE = 64 * 1024;
const HIGH_WATER = 1024 * 1024;
const CONNECT_TIMEOUT_MS = 10_000;
// After the last byte, the server decodes the image; it answers well within this.
const VERDICT_TIMEOUT_MS = 120_000;

export class IntakeConnectionError extends Error {
  constructor(message) {
    super(message);
    this.name = 'IntakeConnectionError';
  }
}

function intakeUrl() {
  const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${window.location.host}/ws/intake`;
}

// A promise with its resolve/reject, and a catch so that an unobserved rejection is not reported.
function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {});
  return { promise, resolve, reject };
}

export class IntakeClient {
  constructor({ onError } = {}) {
    this.ws = null;
    this.session = null; // the server's `session` message
    this.connecting = null;
    this.seq = 0;
    this.pending = new Map(); // client_file_id -> {ready, verdict, onProgress}
    this.onError = onError || (() => {});
  }

  get connected() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN && this.session !== null;
  }

  // Opens the socket and waits for the `session` message; resolves the session.
  connect() {
    if (this.connected) return Promise.resolve(this.session);
    if (this.connecting) return this.connecting;
    const opened = deferred();
    const ws = new WebSocket(intakeUrl());
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    this.session = null;
    const timer = setTimeout(() => {
      opened.reject(new IntakeConnectionError('The server did not open an intake session in time.'));
      ws.close();
    }, CONNECT_TIMEOUT_MS);

    ws.onmessage = (m) => {
      if (typeof m.data !== 'string') return;
      let msg;
      try {
        msg = JSON.parse(m.data);
      } catch {
        return;
      }
      if (msg.type === 'session') {
        this.session = msg;
        clearTimeout(timer);
        opened.resolve(msg);
        return;
      }
      this.#dispatch(msg);
    };
    ws.onclose = (e) => {
      clearTimeout(timer);
      if (this.ws === ws) {
        this.ws = null;
        this.session = null;
      }
      const why =
        e.code === 1008
          ? 'The server closed the connection (policy violation).'
          : 'The connection to the server was lost.';
      opened.reject(new IntakeConnectionError(why));
      for (const p of this.pending.values()) {
        p.ready.reject(new IntakeConnectionError(why));
        p.verdict.reject(new IntakeConnectionError(why));
      }
      this.pending.clear();
    };

    this.connecting = opened.promise.finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  close() {
    if (this.ws) this.ws.close(1000);
    this.ws = null;
    this.session = null;
  }

  #dispatch(msg) {
    if (msg.type === 'error') {
      this.onError(msg);
      return;
    }
    const p = this.pending.get(msg.client_file_id);
    if (!p) return;
    if (msg.type === 'ready') p.ready.resolve();
    else if (msg.type === 'progress') p.onProgress(Number(msg.received) || 0, 'server');
    else if (msg.type === 'verdict') {
      this.pending.delete(msg.client_file_id);
      p.verdict.resolve(msg);
      p.ready.reject(new Error('verdict before ready'));
    }
  }

  // Waits until the socket has sent most of what it buffered (there is no 'drain' event).
  async #drain(ws) {
    while (ws.bufferedAmount > HIGH_WATER) {
      if (ws.readyState !== WebSocket.OPEN) throw new IntakeConnectionError('The connection to the server was lost.');
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  // Sends one file; resolves the verdict message ({accepted, code, message, file, ...}).
  // onProgress(bytes) reports bytes on their way or, from `progress` messages, received.
  // The tab keeps one session: past limits.max_files accepted files the server answers
  // session_limit, and that is final (the limit is the server's to keep, not to work around).
  async send(file, { name = file.name, onProgress = () => {} } = {}) {
    await this.connect();
    const ws = this.ws;
    const id = `f${++this.seq}`;
    const entry = { ready: deferred(), verdict: deferred(), onProgress };
    this.pending.set(id, entry);
    ws.send(JSON.stringify({ type: 'file', client_file_id: id, name, size: file.size }));

    const first = await Promise.race([entry.ready.promise.then(() => null), entry.verdict.promise]);
    if (first) return first; // refused before any byte

    let done = false;
    entry.verdict.promise.then(
      () => (done = true),
      () => (done = true),
    );
    const maxFrame = Math.max(1, Math.min(SLICE, this.session?.limits?.max_message_bytes || SLICE));
    for (let offset = 0; offset < file.size && !done; ) {
      await this.#drain(ws);
      if (done) break;
      const end = Math.min(offset + maxFrame, file.size);
      let bytes;
      try {
        bytes = await file.slice(offset, end).arrayBuffer();
      } catch (err) {
        this.pending.delete(id);
        if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: 'cancel', client_file_id: id }));
        throw err;
      }
      if (ws.readyState !== WebSocket.OPEN) break; // the verdict promise reports the loss
      ws.send(bytes);
      offset = end;
      onProgress(Math.max(0, offset - ws.bufferedAmount), 'sent');
    }
    if (!done) {
      await this.#drain(ws).catch(() => {});
      onProgress(file.size - (ws.bufferedAmount || 0), 'sent');
    }

    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => {
        reject(new IntakeConnectionError('No verdict from the server in time.'));
        this.close();
      }, VERDICT_TIMEOUT_MS);
    });
    try {
      return await Promise.race([entry.verdict.promise, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
