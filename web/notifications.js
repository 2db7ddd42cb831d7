// The notification badge (unread count) and panel (the inbox, mark one or all read).

import { requestJson } from './api.js';
import { el, timeElement } from './format.js';

export class Notifications {
  constructor({ button, badge, panel, list, empty, readAll, closeButton, toast }) {
    Object.assign(this, { button, badge, panel, list, empty, readAll, closeButton, toast });
    this.unread = 0;
    button.addEventListener('click', () => (panel.hidden ? this.open() : this.close()));
    closeButton.addEventListener('click', () => this.close());
    readAll.addEventListener('click', () => this.markAllRead());
    panel.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') {
        e.stopPropagation();
        this.close();
      }
    });
  }

  clear() {
    this.close(false);
    this.list.replaceChildren();
    this.#setCount(0);
  }

  #setCount(n) {
    this.unread = Math.max(0, n);
    this.badge.textContent = String(this.unread);
    this.badge.hidden = this.unread === 0;
    this.button.setAttribute('aria-label', this.unread ? `Notifications, ${this.unread} unread` : 'Notifications');
    this.readAll.disabled = this.unread === 0;
  }

  async refreshCount() {
    try {
      const { unread } = await requestJson('/notifications/unread-count');
      this.#setCount(Number(unread) || 0);
    } catch {
      // the badge keeps its last value; the next live message or reload corrects it
    }
  }

  // A live notification: counted at once, then the server's count replaces the guess.
  received(notification) {
    if (!notification.read) this.#setCount(this.unread + 1);
    this.toast(notification.title || 'New notification');
    if (!this.panel.hidden) this.load();
    this.refreshCount();
  }

  async open() {
    this.panel.hidden = false;
    this.button.setAttribute('aria-expanded', 'true');
    await this.load();
    const first = this.panel.querySelector('button:not([disabled])');
    (first || this.closeButton).focus();
  }

  close(restoreFocus = true) {
    if (this.panel.hidden) return;
    this.panel.hidden = true;
    this.button.setAttribute('aria-expanded', 'false');
    if (restoreFocus) this.button.focus();
  }

  async load() {
    let items;
    try {
      items = await requestJson('/notifications?limit=50');
    } catch (err) {
      this.list.replaceChildren(el('li', { class: 'error', text: `Could not load notifications: ${err.message}` }));
      return;
    }
    this.list.replaceChildren(...items.map((n) => this.#item(n)));
    this.empty.hidden = items.length > 0;
    await this.refreshCount();
  }

  #item(n) {
    const li = el(
      'li',
      { class: 'notification', dataset: { id: n.id, read: String(Boolean(n.read)), type: n.type || '' } },
      el('p', { class: 'notification-title', text: n.title || n.type }),
      el('p', { class: 'sub' }, timeElement(n.created_at)),
    );
    if (!n.read) {
      li.append(
        el('button', {
          class: 'mark-read',
          text: 'Mark read',
          attrs: { type: 'button', 'aria-label': `Mark read: ${n.title || n.type}` },
          on: { click: () => this.markRead(n.id, li) },
        }),
      );
    }
    return li;
  }

  async markRead(id, li) {
    try {
      await requestJson(`/notifications/${encodeURIComponent(id)}/read`, { method: 'PATCH' });
    } catch (err) {
      this.toast(`Could not mark it read: ${err.message}`, 'error');
      return;
    }
    li.dataset.read = 'true';
    const button = li.querySelector('.mark-read');
    if (button) {
      const next = li.nextElementSibling?.querySelector('.mark-read') || this.closeButton;
      button.remove();
      next.focus();
    }
    await this.refreshCount();
  }

  async markAllRead() {
    try {
      await requestJson('/notifications/read-all', { method: 'PATCH' });
    } catch (err) {
      this.toast(`Could not mark them read: ${err.message}`, 'error');
      return;
    }
    this.#setCount(0);
    if (!this.panel.hidden) await this.load();
    this.closeButton.focus();
  }
}
