// Small formatting and DOM helpers shared by the modules.

const UNITS = ['KiB', 'MiB', 'GiB', 'TiB'];

export function formatSize(bytes) {
  if (!Number.isFinite(bytes)) return '';
  if (bytes < 1024) return `${bytes} B`;
  let v = bytes;
  let i = -1;
  do {
    v /= 1024;
    i++;
  } while (v >= 1024 && i < UNITS.length - 1);
  return `${v.toFixed(v < 10 ? 1 : 0)} ${UNITS[i]}`;
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export function formatDate(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : dateFormat.format(d);
}

// <time datetime=iso>local date</time>
export function timeElement(iso) {
  const t = el('time', { text: formatDate(iso) });
  if (iso) t.dateTime = iso;
  return t;
}

// el('button', {class: 'x', text: 'Hi', attrs: {type: 'button'}, on: {click: fn}}, ...children)
export function el(tag, { class: cls, text, attrs, on, dataset } = {}, ...children) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  if (attrs) for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) node.setAttribute(k, v);
  if (dataset) Object.assign(node.dataset, dataset);
  if (on) for (const [k, fn] of Object.entries(on)) node.addEventListener(k, fn);
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Calls fn at most once per `ms`, after the last call.
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
