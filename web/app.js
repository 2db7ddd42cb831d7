// sharebox in the browser: sign-in, uploads (image intake over WebSocket, other files over tus),
// the file list with sharing, live updates and notifications. See docs/web-app.md.

import { requestJson, setUnauthenticatedHandler } from './api.js';
import { FileList } from './files.js';
import { LiveFeed } from './live.js';
import { Notifications } from './notifications.js';
import { ShareDialog, makeConfirm } from './share.js';
import { Uploads, bindDropZone } from './uploads.js';
import { el } from './format.js';

const $ = (sel) => document.querySelector(sel);

let me = null;

// Toasts: short messages in a polite live region; errors stay longer.
function toast(message, kind = 'info') {
  const item = el('div', { class: `toast toast-${kind}`, text: message });
  $('#toasts').append(item);
  setTimeout(() => item.remove(), kind === 'error' ? 10_000 : 5_000);
}

const confirmDialog = makeConfirm($('#confirm-dialog'));

const files = new FileList({
  tbody: $('#file-list'),
  table: $('#file-table'),
  heading: $('#files-title'),
  empty: $('#files-empty'),
  more: $('#files-more'),
  status: $('#files-status'),
  toast,
  me: () => me,
  share: (file, opener) => shareDialog.open(file, opener),
  confirm: confirmDialog,
});

const shareDialog = new ShareDialog({ dialog: $('#share-dialog'), onChanged: () => files.refresh(), toast });

const uploads = new Uploads({
  list: $('#upload-list'),
  clearButton: $('#uploads-clear'),
  onStored: () => files.refresh(),
  toast,
});
bindDropZone({ zone: $('#drop-zone'), button: $('#choose-files'), input: $('#file-input'), uploads });

const notifications = new Notifications({
  button: $('#notifications-button'),
  badge: $('#notification-badge'),
  panel: $('#notifications-panel'),
  list: $('#notification-list'),
  empty: $('#notifications-empty'),
  readAll: $('#notifications-read-all'),
  closeButton: $('#notifications-close'),
  toast,
});

const LIVE_LABELS = { live: 'Live', connecting: 'Reconnecting…', offline: 'Offline' };
const live = new LiveFeed({
  onEvent: (event) => {
    if (event.type && event.type.startsWith('file.')) files.scheduleRefresh();
  },
  onNotification: (n) => notifications.received(n),
  onState: (state) => {
    const badge = $('#live-status');
    badge.dataset.state = state;
    badge.textContent = LIVE_LABELS[state] || state;
  },
  onReconnect: () => {
    files.scheduleRefresh();
    notifications.refreshCount();
  },
  beforeReconnect: async () => {
    try {
      await requestJson('/auth/session', { quiet401: true });
      return true;
    } catch (err) {
      if (err.status === 401) signedOut('Your session has ended. Sign in again.');
      return err.status !== 401;
    }
  },
});

// message: a notice (signed out, session ended); error: something that went wrong.
function showSignIn({ message = '', error = '' } = {}) {
  $('#app-section').hidden = true;
  $('#account').hidden = true;
  $('#signin-section').hidden = false;
  $('#signin-notice').textContent = message;
  $('#signin-error').textContent = error;
  $('#api-key').focus();
}

function showApp(session) {
  me = session.user_id;
  $('#user-name').textContent = me;
  $('#signin-section').hidden = true;
  $('#account').hidden = false;
  $('#app-section').hidden = false;
  $('#signin-error').textContent = '';
  live.start();
  files.refresh();
  notifications.refreshCount();
  $('#choose-files').focus();
}

// Forgets everything about the previous user.
function signedOut(message) {
  if (me === null && !$('#signin-section').hidden) return;
  me = null;
  live.stop();
  uploads.reset();
  files.clear();
  notifications.clear();
  if ($('#share-dialog').open) $('#share-dialog').close();
  showSignIn({ message });
}

setUnauthenticatedHandler(() => {
  if (me !== null) signedOut('Your session has ended. Sign in again.');
});

$('#signin-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const field = $('#api-key');
  const key = field.value.trim();
  field.value = ''; // the key lives nowhere but in this request
  if (!key) {
    $('#signin-error').textContent = 'Enter your API key.';
    field.focus();
    return;
  }
  const button = $('#signin-submit');
  button.disabled = true;
  $('#signin-error').textContent = '';
  $('#signin-notice').textContent = '';
  try {
    const session = await requestJson('/auth/session', { method: 'POST', json: { api_key: key }, quiet401: true });
    showApp(session);
  } catch (err) {
    $('#signin-error').textContent = err.status === 401 ? 'That API key is not valid.' : err.message;
    field.focus();
  } finally {
    button.disabled = false;
  }
});

$('#signout-button').addEventListener('click', async () => {
  try {
    await requestJson('/auth/session', { method: 'DELETE', quiet401: true });
  } catch (err) {
    toast(`Could not sign out: ${err.message}`, 'error');
    return;
  }
  signedOut('You are signed out.');
});

$('#files-refresh').addEventListener('click', () => files.refresh());

async function start() {
  try {
    const session = await requestJson('/auth/session', { quiet401: true });
    showApp(session);
  } catch (err) {
    showSignIn({ error: err.status === 401 ? '' : err.message });
  }
}

start();
