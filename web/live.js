// The live feed: a WebSocket to /ws/events (authenticated by the session cookie) that delivers
// {"kind":"event",...} and {"kind":"notification",...}; reconnects with exponential backoff.

const BACKOFF_MS = [1000, 2000, 4000, 8000, 15000, 30000];

export class LiveFeed {
  // onEvent(event), onNotification(notification), onState('live'|'connecting'|'offline'),
  // onReconnect() after a connection that replaced a lost one (events may have been missed).
  constructor({ onEvent, onNotification, onState = () => {}, onReconnect = () => {}, beforeReconnect }) {
    Object.assign(this, { onEvent, onNotification, onState, onReconnect, beforeReconnect });
    this.ws = null;
    this.attempt = 0;
    this.timer = null;
    this.running = false;
    this.everOpened = false;
  }

  start() {
    if (this.running) return;
    this.running = true;
    this.attempt = 0;
    this.everOpened = false;
    this.#open();
  }

  stop() {
    this.running = false;
    clearTimeout(this.timer);
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.close(1000);
    }
    this.onState('offline');
  }

  #open() {
    const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${scheme}//${window.location.host}/ws/events`);
    this.ws = ws;
    this.onState('connecting');
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.attempt = 0;
      this.onState('live');
      if (this.everOpened) this.onReconnect();
      this.everOpened = true;
    };
    ws.onmessage = (m) => {
      if (typeof m.data !== 'string') return;
      let msg;
      try {
        msg = JSON.parse(m.data);
      } catch {
        return;
      }
      if (msg.kind === 'event' && msg.event) this.onEvent(msg.event);
      else if (msg.kind === 'notification' && msg.notification) this.onNotification(msg.notification);
    };
    ws.onclose = () => {
      if (this.ws !== ws || !this.running) return;
      this.ws = null;
      this.onState('connecting');
      const delay = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
      this.attempt++;
      this.timer = setTimeout(async () => {
        // A socket refused for lack of a session looks like any lost connection: ask.
        if (this.beforeReconnect && !(await this.beforeReconnect())) return;
        if (this.running) this.#open();
      }, delay * (0.75 + Math.random() * 0.5));
    };
  }
}
