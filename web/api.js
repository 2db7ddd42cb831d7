// Same-origin JSON requests to the sharebox API. The session cookie goes with every request
// (fetch's default credentials are 'same-origin'); errors become ApiError with the problem's
// `detail` (RFC 9457) as their message.

export class ApiError extends Error {
  constructor(message, { status = 0, code = 'network', problem = null } = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.problem = problem;
  }
}

let onUnauthenticated = () => {};

// Called when a request answers 401: the session ended (expired, revoked, signed out elsewhere).
export function setUnauthenticatedHandler(fn) {
  onUnauthenticated = fn;
}

// The error a failed response stands for. `text` is the body already read, if any.
export function problemError(status, statusText, contentType, text) {
  if (contentType && /json/.test(contentType) && text) {
    try {
      const p = JSON.parse(text);
      const message = p.detail || p.title || `${status} ${statusText}`;
      return new ApiError(message, { status, code: p.code || 'http_' + status, problem: p });
    } catch {
      // not JSON after all
    }
  }
  const message = status === 0 ? 'Cannot reach the server.' : `The server answered ${status} ${statusText}.`;
  return new ApiError(message, { status, code: status === 0 ? 'network' : 'http_' + status });
}

// fetch() that throws ApiError for network failures and non-2xx answers.
// options: method, json (a body to send as JSON), headers, quiet401 (do not report a 401 as a
// lost session, e.g. when asking whether there is one).
export async function request(path, { method = 'GET', json, headers = {}, quiet401 = false } = {}) {
  const init = { method, headers: { Accept: 'application/json', ...headers } };
  if (json !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(json);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError('Cannot reach the server. Check your connection and try again.');
  }
  if (res.ok) return res;
  const text = await res.text().catch(() => '');
  const err = problemError(res.status, res.statusText, res.headers.get('Content-Type'), text);
  if (res.status === 401 && !quiet401) onUnauthenticated(err);
  throw err;
}

// request() and the JSON body (null for 204).
export async function requestJson(path, options) {
  const res = await request(path, options);
  if (res.status === 204) return null;
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

// The target of `Link: <...>; rel="next"`, or null.
export function nextLink(res) {
  const link = res.headers.get('Link');
  if (!link) return null;
  for (const part of link.split(',')) {
    const m = /^<([^>]*)>(.*)$/.exec(part.trim());
    const rel = m && /;\s*rel\s*=\s*"?([^";]*)"?/i.exec(m[2]);
    if (rel && rel[1].toLowerCase().split(/\s+/).includes('next')) return m[1];
  }
  return null;
}
