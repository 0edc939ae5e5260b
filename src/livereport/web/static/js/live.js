// The live connection: an EventSource on /v1/campaigns/{c}/live. It reconnects by itself;
// this module adds a watchdog (no word for 40 s means the line is dead) and reports the state:
// "connecting", "live", "lost" (retrying) or "stopped" (the server refused: signed out, no such
// campaign, a wrong parameter). Besides the reports, the stream carries the campaign's firing
// alerts (`alerts`), at the start and whenever they change, and a `problem` when a report cannot
// be built (a period the server refuses, say), while the stream itself stays open.

import { api } from "./api.js";

const WATCHDOG_MS = 40_000;
const MAX_BACKOFF_MS = 30_000;

export class LiveStream {
  constructor({ onReport, onHeartbeat, onState, onStopped, onAlerts = () => {}, onProblem = () => {} }) {
    this.handlers = { onReport, onHeartbeat, onState, onStopped, onAlerts, onProblem };
    this.source = null;
    this.url = null;
    this.state = "connecting";
    this.backoff = 1000;
    this.timer = null;
    this.watchdog = null;
  }

  open(url, checkUrl) {
    this.close();
    this.url = url;
    this.checkUrl = checkUrl;
    this.connect();
  }

  connect() {
    const source = new EventSource(this.url);
    this.source = source;
    this.setState(this.state === "lost" ? "lost" : "connecting");
    source.addEventListener("open", () => {
      this.backoff = 1000;
      this.setState("live");
      this.arm();
    });
    source.addEventListener("report", (event) => {
      this.arm();
      this.setState("live");
      this.handlers.onReport(JSON.parse(event.data));
    });
    source.addEventListener("heartbeat", (event) => {
      this.arm();
      this.setState("live");
      this.handlers.onHeartbeat(JSON.parse(event.data));
    });
    source.addEventListener("alerts", (event) => {
      this.arm();
      this.setState("live");
      this.handlers.onAlerts(JSON.parse(event.data).alerts || []);
    });
    source.addEventListener("problem", (event) => {
      this.arm();
      this.setState("live");
      this.handlers.onProblem(JSON.parse(event.data).error || "the report could not be built");
    });
    source.addEventListener("signed-out", () => {
      this.stop("signed-out");
    });
    source.addEventListener("error", () => {
      if (source !== this.source) return;
      // Closed: an HTTP error or a refused stream, whose reason is asked before saying "lost".
      // Otherwise EventSource is already reconnecting by itself.
      if (source.readyState === EventSource.CLOSED) this.retryLater();
      else this.setState("lost");
    });
  }

  /** EventSource gave up: find out why; retry later unless the server said no for good. */
  async retryLater() {
    this.dropSource();
    try {
      await api(this.checkUrl, { redirect: false });
    } catch (err) {
      if (err.status === 401) return this.stop("signed-out", err.status);
      // No such campaign (404) or a wrong parameter (400): asking again cannot help.
      if (err.status === 404 || err.status === 400) return this.stop(err.message, err.status);
    }
    this.setState("lost");
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), this.backoff);
    this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
  }

  arm() {
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => {
      this.setState("lost");
      this.dropSource();
      this.connect();
    }, WATCHDOG_MS);
  }

  /** No more connections until open() is called again; `status` is the server's answer. */
  stop(reason, status = 0) {
    this.close();
    this.setState("stopped");
    this.handlers.onStopped(reason, status);
  }

  setState(state) {
    if (state === this.state) return;
    const previous = this.state;
    this.state = state;
    this.handlers.onState(state, previous);
  }

  dropSource() {
    if (this.source) {
      this.source.close();
      this.source = null;
    }
  }

  close() {
    clearTimeout(this.timer);
    clearTimeout(this.watchdog);
    this.dropSource();
  }
}
