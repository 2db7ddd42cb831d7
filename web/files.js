// The file list (GET /files, following Link rel="next"), with download, delete and share.
// Rows are kept per file id and only rebuilt when the file object changes, so a refresh does not
// reload thumbnails or steal keyboard focus.

import { nextLink, request, requestJson } from './api.js';
import { debounce, el, formatSize, timeElement } from './format.js';

const ICON = '/app/icon-file.svg';
const PAGE = 100;

export class FileList {
  // me(): the signed-in user id; share(file, opener); confirm(message, okLabel) → Promise<bool>
  constructor({ tbody, table, heading, empty, more, status, toast, me, share, confirm }) {
    Object.assign(this, { tbody, table, heading, empty, more, status, toast, me, share, confirm });
    this.rows = new Map(); // id -> {tr, signature}
    this.files = [];
    this.next = null;
    this.pages = 1;
    this.running = null;
    this.again = false;
    this.scheduleRefresh = debounce(() => this.refresh(), 250);
    more.addEventListener('click', () => this.loadMore());
  }

  clear() {
    this.rows.clear();
    this.files = [];
    this.next = null;
    this.pages = 1;
    this.tbody.replaceChildren();
    this.more.hidden = true;
    this.empty.hidden = true;
    this.status.textContent = '';
  }

  // Reloads as many pages as are shown. Calls made while one runs are folded into one more run.
  refresh() {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.#load(this.pages);
        } while (this.again);
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  async loadMore() {
    if (!this.next) return;
    this.pages++;
    await this.refresh();
  }

  async #load(pages) {
    const files = [];
    let url = `/files?limit=${PAGE}`;
    let next = null;
    this.table.setAttribute('aria-busy', 'true');
    try {
      for (let i = 0; i < pages && url; i++) {
        const res = await request(url);
        files.push(...(await res.json()));
        next = nextLink(res);
        url = next;
      }
    } catch (err) {
      this.status.textContent = `Could not load the files: ${err.message}`;
      return;
    } finally {
      this.table.removeAttribute('aria-busy');
    }
    this.status.textContent = '';
    this.files = files;
    this.next = next;
    this.#render();
  }

  #render() {
    const seen = new Set();
    this.files.forEach((file, i) => {
      seen.add(file.id);
      const signature = JSON.stringify(file) + this.me();
      let row = this.rows.get(file.id);
      if (!row || row.signature !== signature) {
        const tr = this.#row(file);
        if (row) row.tr.replaceWith(tr);
        row = { tr, signature };
        this.rows.set(file.id, row);
      }
      if (this.tbody.children[i] !== row.tr) this.tbody.insertBefore(row.tr, this.tbody.children[i] || null);
    });
    for (const [id, row] of this.rows) {
      if (!seen.has(id)) {
        row.tr.remove();
        this.rows.delete(id);
      }
    }
    this.empty.hidden = this.files.length > 0;
    this.table.hidden = this.files.length === 0;
    this.more.hidden = !this.next;
  }

  #thumb(file) {
    if (!file.content_type || !file.content_type.startsWith('image/')) {
      return el('img', { class: 'icon', attrs: { src: ICON, alt: '', width: '40', height: '40' } });
    }
    const img = el('img', {
      class: 'thumb',
      attrs: { alt: '', loading: 'lazy', width: '40', height: '40', decoding: 'async' },
    });
    img.addEventListener(
      'error',
      () => {
        img.className = 'thumb thumb-missing';
        img.src = ICON;
      },
      { once: true },
    );
    img.src = `/files/${encodeURIComponent(file.id)}/thumbnail`;
    return img;
  }

  #row(file) {
    const mine = file.owner === this.me();
    const name = el('a', {
      class: 'download',
      text: file.name,
      attrs: { href: `/files/${encodeURIComponent(file.id)}`, download: file.name },
    });
    const details = [];
    if (file.image) details.push(`${file.image.width}×${file.image.height} ${String(file.image.format || '').toUpperCase()}`);
    else if (file.content_type) details.push(file.content_type);
    const owner = mine
      ? el('span', { text: 'you' })
      : el(
          'span',
          {},
          file.owner,
          el('span', {
            class: 'sub',
            text: file.permission ? `shared with you · ${file.permission === 'write' ? 'can edit' : 'read only'}` : '',
          }),
        );
    const sharedWith = (file.shared_with || []).map((s) => `${s.user_id} (${s.permission})`).join(', ');
    const actions = el('td', { class: 'col-actions' });
    if (mine) {
      actions.append(
        el('button', {
          class: 'share',
          text: 'Share',
          attrs: { type: 'button', 'aria-label': `Share ${file.name}` },
          on: { click: (e) => this.share(file, e.currentTarget) },
        }),
        el('button', {
          class: 'delete danger',
          text: 'Delete',
          attrs: { type: 'button', 'aria-label': `Delete ${file.name}` },
          on: { click: (e) => this.#delete(file, e.currentTarget) },
        }),
      );
    }
    return el(
      'tr',
      { class: 'file-row', dataset: { name: file.name, id: file.id, owner: file.owner, mine: String(mine) } },
      el('td', { class: 'col-thumb' }, this.#thumb(file)),
      el('td', { class: 'col-name' }, name, el('span', { class: 'sub', text: details.join(' · ') })),
      el('td', { class: 'col-size', text: formatSize(file.size) }),
      el('td', { class: 'col-date' }, timeElement(file.updated_at)),
      el('td', { class: 'col-owner' }, owner),
      el('td', { class: 'col-shared', text: mine ? sharedWith || '—' : '' }),
      actions,
    );
  }

  async #delete(file, button) {
    const ok = await this.confirm(`Delete “${file.name}”? This cannot be undone.`, 'Delete', button);
    if (!ok) return;
    try {
      await requestJson(`/files/${encodeURIComponent(file.id)}`, { method: 'DELETE', headers: { 'If-Match': file.etag } });
      this.toast(`Deleted ${file.name}.`);
    } catch (err) {
      this.toast(`Could not delete ${file.name}: ${err.message}`, 'error');
    }
    await this.refresh();
    // The row and its button are gone: keep keyboard users in the list.
    if (!button.isConnected) this.heading.focus();
  }
}
