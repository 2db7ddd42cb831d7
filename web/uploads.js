// The upload queue: the drop zone and "Choose files" feed it; images go one by one through the
// intake WebSocket, other files one by one through tus. Every item keeps its File object until
// it is stored, so a failed one can be retried.

import { IntakeClient, IntakeConnectionError } from './intake.js';
import { tusUpload } from './tus.js';
import { el, formatSize, sleep } from './format.js';

// The formats intake takes; other pictures (GIF, SVG, ...) are ordinary files and go through tus.
const IMAGE_TYPES = new Set(['image/jpeg', 'image/png', 'image/webp', 'image/heic', 'image/heif']);
const IMAGE_EXTENSIONS = new Set(['jpg', 'jpeg', 'png', 'webp', 'heic', 'heif']);
// Verdicts worth retrying: the file itself was fine. (session_limit is final: one tab is one
// intake session, and its limit is the server's to keep.)
const TRANSIENT_CODES = new Set(['internal', 'storage_full', 'cancelled']);
const CONNECT_RETRY_MS = [0, 1000, 3000];

export function isImage(file) {
  if (IMAGE_TYPES.has(file.type)) return true;
  if (file.type && file.type !== 'application/octet-stream') return false;
  const dot = file.name.lastIndexOf('.');
  return dot >= 0 && IMAGE_EXTENSIONS.has(file.name.slice(dot + 1).toLowerCase());
}

const FALLBACK_MESSAGES = {
  too_large: 'The image is too large.',
  size_mismatch: 'More bytes arrived than announced.',
  unsupported_type: 'This is not a JPEG, PNG, WebP, HEIC or HEIF image.',
  corrupt: 'The image is damaged or incomplete.',
  session_limit: 'Too many images in this session.',
  duplicate: 'The same picture was already uploaded.',
  invalid_name: 'The file name is not allowed.',
  cancelled: 'The upload was cancelled.',
  storage_full: 'The server is out of space.',
  internal: 'The server could not store the image.',
};

export class Uploads {
  // list: the <ul>; clearButton: "Clear finished"; onStored(fileIdOrObject); toast(message, kind)
  constructor({ list, clearButton, onStored, toast }) {
    this.list = list;
    this.clearButton = clearButton;
    this.onStored = onStored;
    this.toast = toast;
    this.items = [];
    this.imageQueue = [];
    this.fileQueue = [];
    this.imagesBusy = false;
    this.filesBusy = false;
    this.intake = new IntakeClient({
      onError: (msg) => toast(`Intake: ${msg.message || msg.code}`, 'error'),
    });
    clearButton.addEventListener('click', () => this.clearFinished());
  }

  add(files) {
    for (const file of files) {
      const item = this.#render(file, isImage(file) ? 'image' : 'file');
      this.items.push(item);
      this.#enqueue(item);
    }
    this.#updateClear();
  }

  // Stops everything on sign-out: the socket closes, the list empties.
  reset() {
    this.intake.close();
    this.imageQueue.length = 0;
    this.fileQueue.length = 0;
    for (const item of this.items) item.abort?.abort();
    this.items = [];
    this.list.replaceChildren();
    this.#updateClear();
  }

  clearFinished() {
    this.items = this.items.filter((item) => {
      const finished = item.state === 'accepted' || item.state === 'rejected';
      if (finished) item.li.remove();
      return !finished;
    });
    this.#updateClear();
  }

  #updateClear() {
    this.clearButton.hidden = !this.items.some((i) => i.state === 'accepted' || i.state === 'rejected');
  }

  #render(file, kind) {
    const progress = el('progress', {
      class: 'upload-progress',
      attrs: { max: String(Math.max(file.size, 1)), 'aria-label': `Progress of ${file.name}` },
    });
    progress.value = 0;
    const status = el('span', { class: 'upload-status', text: 'Waiting…' });
    const verdict = el('p', { class: 'verdict', attrs: { role: 'status' } });
    const retry = el('button', {
      class: 'retry',
      text: 'Retry',
      attrs: { type: 'button', 'aria-label': `Retry ${file.name}` },
    });
    retry.hidden = true;
    const li = el(
      'li',
      { class: 'upload-item', attrs: { tabindex: '-1' }, dataset: { name: file.name, state: 'queued', kind } },
      el(
        'div',
        { class: 'upload-head' },
        el('span', { class: 'upload-name', text: file.name }),
        el('span', { class: 'upload-meta', text: `${formatSize(file.size)} · ${kind === 'image' ? 'image' : 'file'}` }),
        status,
      ),
      progress,
      el('div', { class: 'upload-foot' }, verdict, retry),
    );
    this.list.append(li);
    const item = { file, kind, li, progress, status, verdict, retry, state: 'queued', abort: null };
    retry.addEventListener('click', () => {
      retry.hidden = true;
      this.#enqueue(item);
      li.focus(); // the button just disappeared: keep the keyboard user on this item
    });
    return item;
  }

  #set(item, state, { status = '', verdict = '', code = null } = {}) {
    item.state = state;
    item.li.dataset.state = state;
    if (code) item.li.dataset.code = code;
    else delete item.li.dataset.code;
    item.status.textContent = status;
    item.verdict.textContent = verdict;
    item.verdict.className = `verdict verdict-${state}`;
    item.retry.hidden = state !== 'failed';
    this.#updateClear();
  }

  #progress(item, bytes) {
    const size = Math.max(item.file.size, 1);
    const v = Math.min(Math.max(bytes, 0), size);
    if (v > item.progress.value) item.progress.value = v;
    item.status.textContent = `${Math.floor((100 * item.progress.value) / size)}%`;
  }

  #enqueue(item) {
    item.progress.value = 0;
    this.#set(item, 'queued', { status: 'Waiting…' });
    if (item.kind === 'image') {
      this.imageQueue.push(item);
      this.#pumpImages();
    } else {
      this.fileQueue.push(item);
      this.#pumpFiles();
    }
  }

  async #connectIntake() {
    let last;
    for (const delay of CONNECT_RETRY_MS) {
      if (delay) await sleep(delay);
      try {
        return await this.intake.connect();
      } catch (err) {
        last = err;
      }
    }
    throw last;
  }

  async #pumpImages() {
    if (this.imagesBusy) return;
    this.imagesBusy = true;
    try {
      while (this.imageQueue.length) {
        const item = this.imageQueue.shift();
        if (!this.items.includes(item)) continue;
        await this.#sendImage(item);
      }
    } finally {
      this.imagesBusy = false;
    }
  }

  async #sendImage(item) {
    this.#set(item, 'uploading', { status: 'Connecting…' });
    try {
      await this.#connectIntake();
    } catch {
      this.#set(item, 'failed', {
        verdict: '✗ Cannot connect to the server for image uploads. Retry when it is back.',
        code: 'connection_failed',
      });
      return;
    }
    this.#set(item, 'uploading', { status: '0%' });
    let verdict;
    try {
      verdict = await this.intake.send(item.file, {
        onProgress: (bytes) => {
          this.#progress(item, bytes);
          if (item.progress.value >= item.file.size) item.status.textContent = 'Checking…';
        },
      });
    } catch (err) {
      const lost = err instanceof IntakeConnectionError;
      this.#set(item, 'failed', {
        verdict: `✗ ${lost ? err.message : `Could not read the file: ${err.message}`}`,
        code: lost ? 'connection_lost' : 'read_error',
      });
      return;
    }
    if (verdict.accepted) {
      item.progress.value = item.progress.max;
      this.#set(item, 'accepted', { verdict: 'Accepted ✓', code: null });
      this.onStored(verdict.file || null);
      return;
    }
    const message = verdict.message || FALLBACK_MESSAGES[verdict.code] || `Rejected (${verdict.code}).`;
    const transient = TRANSIENT_CODES.has(verdict.code);
    this.#set(item, transient ? 'failed' : 'rejected', { verdict: `✗ ${message}`, code: verdict.code || 'rejected' });
  }

  async #pumpFiles() {
    if (this.filesBusy) return;
    this.filesBusy = true;
    try {
      while (this.fileQueue.length) {
        const item = this.fileQueue.shift();
        if (!this.items.includes(item)) continue;
        await this.#sendFile(item);
      }
    } finally {
      this.filesBusy = false;
    }
  }

  async #sendFile(item) {
    this.#set(item, 'uploading', { status: '0%' });
    item.abort = new AbortController();
    try {
      const { fileId } = await tusUpload(item.file, {
        signal: item.abort.signal,
        onProgress: (bytes) => this.#progress(item, bytes),
        onResume: (offset) => {
          item.status.textContent = `Resuming at ${formatSize(offset)}…`;
        },
      });
      item.progress.value = item.progress.max;
      this.#set(item, 'accepted', { verdict: 'Uploaded ✓' });
      this.onStored(fileId);
    } catch (err) {
      if (!this.items.includes(item)) return; // signed out meanwhile
      const permanent = err.status === 413 || err.status === 400 || err.status === 415;
      const hint = permanent ? '' : ' Retry resumes where it stopped.';
      this.#set(item, permanent ? 'rejected' : 'failed', { verdict: `✗ ${err.message}${hint}`, code: err.code || 'failed' });
    } finally {
      item.abort = null;
    }
  }
}

// Wires a drop zone and a "Choose files" button + hidden file input to `uploads`.
export function bindDropZone({ zone, button, input, uploads }) {
  let depth = 0;
  const hasFiles = (e) => e.dataTransfer && Array.from(e.dataTransfer.types || []).includes('Files');
  zone.addEventListener('dragenter', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth++;
    zone.classList.add('dragover');
  });
  zone.addEventListener('dragover', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'copy';
  });
  zone.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) zone.classList.remove('dragover');
  });
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    depth = 0;
    zone.classList.remove('dragover');
    const files = Array.from(e.dataTransfer?.files || []);
    if (files.length) uploads.add(files);
  });
  // A file dropped next to the zone would make the browser navigate away to it.
  for (const type of ['dragover', 'drop']) {
    window.addEventListener(type, (e) => {
      if (!zone.contains(e.target) && hasFiles(e)) {
        e.preventDefault();
        if (e.dataTransfer) e.dataTransfer.dropEffect = 'none';
      }
    });
  }
  button.addEventListener('click', () => input.click());
  input.addEventListener('change', () => {
    const files = Array.from(input.files || []);
    input.value = '';
    if (files.length) uploads.add(files);
  });
}
