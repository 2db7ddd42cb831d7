// A small tus 1.0.0 client for /tus/ (see docs/uploads.md): creation, then PATCHes of at most
// `chunkSize` bytes. After a failure it asks the server where the upload stands (HEAD →
// Upload-Offset) and goes on from there. The upload URL is remembered in localStorage under
// the file's name, size and modification time, so dropping the same file again after a reload
// resumes the upload instead of starting over. Requests carry the session cookie.

import { ApiError, problemError } from './api.js';
import { sleep } from './format.js';

const TUS_VERSION = '1.0.0';
const DEFAULT_CHUNK = 8 * 1024 * 1024;
// Pauses before each new attempt after a failure; then the upload fails (and can be retried).
const RETRY_DELAYS_MS = [500, 1500, 4000];
const STORAGE_PREFIX = 'sharebox.tus:';

function storageKey(file) {
  return `${STORAGE_PREFIX}${file.name}:${file.size}:${file.lastModified}`;
}

function remembered(file) {
  try {
    return localStorage.getItem(storageKey(file));
  } catch {
    return null;
  }
}

function remember(file, url) {
  try {
    if (url) localStorage.setItem(storageKey(file), url);
    else localStorage.removeItem(storageKey(file));
  } catch {
    // storage unavailable (private mode, quota): the upload still works, without resume after reload
  }
}

// "filename BASE64,filetype BASE64" (UTF-8 safe).
function metadata(file) {
  const b64 = (s) => {
    const bytes = new TextEncoder().encode(s);
    let bin = '';
    for (const b of bytes) bin += String.fromCharCode(b);
    return btoa(bin);
  };
  const pairs = [`filename ${b64(file.name)}`];
  if (file.type) pairs.push(`filetype ${b64(file.type)}`);
  return pairs.join(',');
}

// One request with XMLHttpRequest (for upload progress). Resolves {status, header(name), text};
// status 0 means the request never got an answer (network error, abort, timeout).
function send(method, url, { headers = {}, body = null, onUploadProgress, signal } = {}) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    xhr.setRequestHeader('Tus-Resumable', TUS_VERSION);
    for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
    if (onUploadProgress) xhr.upload.onprogress = (e) => onUploadProgress(e.loaded);
    const done = () =>
      resolve({
        status: xhr.status,
        statusText: xhr.statusText,
        header: (name) => xhr.getResponseHeader(name),
        text: xhr.responseText,
      });
    xhr.onload = done;
    xhr.onerror = done;
    xhr.onabort = done;
    xhr.ontimeout = done;
    if (signal) {
      if (signal.aborted) {
        resolve({ status: 0, header: () => null, text: '' });
        return;
      }
      signal.addEventListener('abort', () => xhr.abort(), { once: true });
    }
    xhr.send(body);
  });
}

function failure(res) {
  return problemError(res.status, res.statusText || '', res.header('Content-Type'), res.text);
}

// Worth another attempt: no answer, a server error, or a conflict that HEAD resolves.
function transient(status) {
  return status === 0 || status >= 500 || status === 409 || status === 423 || status === 429 || status === 460;
}

function retryAfterMs(res, fallback) {
  const s = Number(res.header('Retry-After'));
  return Number.isFinite(s) && s > 0 ? Math.min(s * 1000, 30_000) : fallback;
}

// Uploads `file` and resolves {fileId, url}. options: endpoint ('/tus/'), chunkSize,
// onProgress(bytesAcknowledgedOrSent, total), onResume(offset) when a remembered upload is
// picked up, signal (AbortSignal).
export async function tusUpload(file, { endpoint = '/tus/', chunkSize = DEFAULT_CHUNK, onProgress, onResume, signal } = {}) {
  const total = file.size;
  const progress = (n) => onProgress && onProgress(Math.min(n, total), total);
  let url = null;
  let offset = 0;
  let fileId = null;

  // Where an existing upload stands: {offset, fileId} or null if the server forgot it.
  const locate = async (target) => {
    const res = await send('HEAD', target, { signal });
    if (res.status === 200) {
      const off = Number(res.header('Upload-Offset'));
      if (!Number.isFinite(off)) throw new ApiError('The server sent no Upload-Offset.', { status: 200, code: 'invalid_header' });
      return { offset: off, fileId: res.header('Sharebox-File-Id') };
    }
    if (res.status === 404 || res.status === 410 || res.status === 403) return null;
    throw failure(res);
  };

  const saved = remembered(file);
  if (saved) {
    try {
      const where = await locate(saved);
      if (where) {
        url = saved;
        offset = where.offset;
        if (offset === total && where.fileId) {
          remember(file, null);
          progress(total);
          return { fileId: where.fileId, url };
        }
        if (onResume) onResume(offset);
      } else {
        remember(file, null);
      }
    } catch {
      // could not ask: start a new upload rather than fail before trying
    }
  }

  if (!url) {
    let res;
    for (let attempt = 0; ; attempt++) {
      res = await send('POST', endpoint, {
        headers: { 'Upload-Length': String(total), 'Upload-Metadata': metadata(file) },
        signal,
      });
      if (res.status === 201 || !transient(res.status) || attempt >= RETRY_DELAYS_MS.length || signal?.aborted) break;
      await sleep(retryAfterMs(res, RETRY_DELAYS_MS[attempt]));
    }
    if (res.status !== 201) throw failure(res);
    const location = res.header('Location');
    if (!location) throw new ApiError('The server did not say where the upload is.', { status: 201, code: 'invalid_header' });
    url = new URL(location, new URL(endpoint, window.location.href)).toString();
    offset = Number(res.header('Upload-Offset')) || 0;
    fileId = res.header('Sharebox-File-Id');
    remember(file, url);
  }
  progress(offset);

  let attempt = 0;
  while (offset < total) {
    const end = Math.min(offset + chunkSize, total);
    const start = offset;
    const res = await send('PATCH', url, {
      headers: { 'Upload-Offset': String(start), 'Content-Type': 'application/offset+octet-stream' },
      body: file.slice(start, end),
      onUploadProgress: (loaded) => progress(start + loaded),
      signal,
    });
    if (res.status === 204) {
      offset = Number(res.header('Upload-Offset'));
      if (!Number.isFinite(offset)) throw new ApiError('The server sent no Upload-Offset.', { status: 204, code: 'invalid_header' });
      fileId = res.header('Sharebox-File-Id') || fileId;
      attempt = 0;
      progress(offset);
      continue;
    }
    if (signal?.aborted) throw new ApiError('Upload cancelled.', { code: 'cancelled' });
    if (res.status === 404 || res.status === 410) {
      remember(file, null);
      throw failure(res);
    }
    if (!transient(res.status) || attempt >= RETRY_DELAYS_MS.length) throw failure(res);
    await sleep(retryAfterMs(res, RETRY_DELAYS_MS[attempt]));
    attempt++;
    // Resume from what the server acknowledged (a broken PATCH may have stored part of it).
    let where = null;
    try {
      where = await locate(url);
    } catch (err) {
      if (attempt >= RETRY_DELAYS_MS.length) throw err;
      continue;
    }
    if (!where) {
      remember(file, null);
      throw new ApiError('The server no longer knows this upload; retry to start it again.', { status: 404, code: 'upload_not_found' });
    }
    offset = where.offset;
    if (where.fileId) fileId = where.fileId;
    progress(offset);
  }

  if (!fileId) {
    // An empty upload (finished by its creation), or the last answer was lost: HEAD knows.
    const where = await locate(url);
    fileId = where && where.fileId;
  }
  remember(file, null);
  if (!fileId) throw new ApiError('The upload finished but the server did not name the file.', { code: 'invalid_header' });
  return { fileId, url };
}
