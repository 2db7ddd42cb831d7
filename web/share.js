// The share dialog: grant read or write access to a user, list who has access, revoke.

import { requestJson } from './api.js';
import { el } from './format.js';

export class ShareDialog {
  constructor({ dialog, onChanged, toast }) {
    this.dialog = dialog;
    this.onChanged = onChanged;
    this.toast = toast;
    this.file = null;
    this.opener = null;
    this.form = dialog.querySelector('#share-form');
    this.user = dialog.querySelector('#share-user');
    this.permission = dialog.querySelector('#share-permission');
    this.submit = dialog.querySelector('#share-submit');
    this.status = dialog.querySelector('#share-status');
    this.list = dialog.querySelector('#share-list');
    this.empty = dialog.querySelector('#share-empty');
    this.fileName = dialog.querySelector('#share-file-name');
    dialog.querySelector('#share-close').addEventListener('click', () => dialog.close());
    dialog.addEventListener('close', () => {
      // The list may have re-rendered the row meanwhile (its shares changed): find its button.
      let back = this.opener;
      if (this.file && !(back && back.isConnected)) {
        back = document.querySelector(`tr.file-row[data-id="${CSS.escape(this.file.id)}"] button.share`);
      }
      if (back) back.focus();
      this.file = null;
      this.opener = null;
    });
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.#grant();
    });
  }

  async open(file, opener) {
    this.file = file;
    this.opener = opener;
    this.fileName.textContent = file.name;
    this.form.reset();
    this.#say('');
    this.list.replaceChildren();
    this.empty.hidden = true;
    this.dialog.showModal();
    this.user.focus();
    await this.#loadShares();
  }

  #say(text, error = false) {
    this.status.textContent = text;
    this.status.classList.toggle('error', error);
  }

  async #loadShares() {
    const file = this.file;
    if (!file) return;
    let shares;
    try {
      shares = await requestJson(`/shares/${encodeURIComponent(file.id)}`);
    } catch (err) {
      this.#say(`Could not load who has access: ${err.message}`, true);
      return;
    }
    if (this.file !== file) return;
    this.list.replaceChildren(
      ...shares.map((s) =>
        el(
          'li',
          { class: 'share-entry', dataset: { user: s.user_id, permission: s.permission } },
          el('span', { class: 'share-user', text: s.user_id }),
          el('span', { class: 'share-permission', text: s.permission === 'write' ? 'can edit' : 'read only' }),
          el('button', {
            class: 'revoke danger',
            text: 'Revoke',
            attrs: { type: 'button', 'aria-label': `Revoke access for ${s.user_id}` },
            on: { click: () => this.#revoke(s.user_id) },
          }),
        ),
      ),
    );
    this.empty.hidden = shares.length > 0;
  }

  async #grant() {
    const file = this.file;
    const user = this.user.value.trim();
    if (!file) return;
    if (!user) {
      this.#say('Enter the user name to share with.', true);
      this.user.focus();
      return;
    }
    this.submit.disabled = true;
    try {
      await requestJson(`/shares/${encodeURIComponent(file.id)}`, {
        method: 'POST',
        json: { target_user_id: user, permission: this.permission.value },
      });
      this.#say(`Shared with ${user} (${this.permission.value}).`);
      this.user.value = '';
      this.onChanged();
    } catch (err) {
      this.#say(err.message, true);
    } finally {
      this.submit.disabled = false;
    }
    await this.#loadShares();
  }

  async #revoke(userId) {
    const file = this.file;
    if (!file) return;
    try {
      await requestJson(`/shares/${encodeURIComponent(file.id)}/${encodeURIComponent(userId)}`, { method: 'DELETE' });
      this.#say(`${userId} no longer has access.`);
      this.onChanged();
    } catch (err) {
      this.#say(err.message, true);
    }
    await this.#loadShares();
    this.user.focus();
  }
}

// confirm() as a <dialog>: resolves true if the user chose OK.
export function makeConfirm(dialog) {
  const message = dialog.querySelector('#confirm-message');
  const ok = dialog.querySelector('#confirm-ok');
  const cancel = dialog.querySelector('#confirm-cancel');
  return (text, okLabel = 'OK', opener = document.activeElement) =>
    new Promise((resolve) => {
      message.textContent = text;
      ok.textContent = okLabel;
      let result = false;
      const onOk = () => {
        result = true;
        dialog.close();
      };
      const onCancel = () => dialog.close();
      ok.addEventListener('click', onOk);
      cancel.addEventListener('click', onCancel);
      dialog.addEventListener(
        'close',
        () => {
          ok.removeEventListener('click', onOk);
          cancel.removeEventListener('click', onCancel);
          if (opener && opener.isConnected) opener.focus();
          resolve(result);
        },
        { once: true },
      );
      dialog.showModal();
      cancel.focus();
    });
}
