// Alerts on the dashboard: the banner of a campaign's firing alerts (fed by the live stream's
// `alerts` event), the list of its recent alerts (GET /v1/alerts), acknowledging one
// (POST /v1/alerts/{id}/ack), and the badge of a campaign with open alerts in the list.
// Campaign ids, rule ids, keys and user names come from outside: they go in as text only.

import { api } from "./api.js";
import { channelName } from "./catalogue.js";
import { $, clear, h, uniqueId } from "./dom.js";
import { DASH, formatCount, formatDateTime, formatRate, formatTime, rawValue, zoneLabel } from "./format.js";
import { scrollable } from "./scrollcue.js";

export const SEVERITIES = { critical: "Critical", warning: "Warning", info: "Info" };
const RANK = { critical: 0, warning: 1, info: 2 };
const STATES = { firing: "Firing", resolved: "Resolved" };

/** An unknown severity reads as the mildest rather than breaking the page. */
function severityOf(value) {
  return value in SEVERITIES ? value : "info";
}

function plural(n, one, many) {
  return `${formatCount(n)} ${n === 1 ? one : many}`;
}

/** Worst first, then the newest. */
export function sortAlerts(alerts) {
  return [...alerts].sort((a, b) =>
    RANK[severityOf(a.severity)] - RANK[severityOf(b.severity)] ||
    String(b.fired_at).localeCompare(String(a.fired_at)));
}

/** How a metric of an alert reads: the catalogue's label and format, else its id. */
function metricOf(alert, metrics) {
  const known = metrics[alert.metric];
  if (known) return known;
  const name = alert.metric || alert.rule;
  return { label: name, format: /_rate$/.test(name || "") ? "rate" : "count" };
}

function formatter(metric) {
  return (value) => (metric.format === "rate" ? formatRate(value) : formatCount(value));
}

function signed(value, format) {
  if (value === null || value === undefined) return DASH;
  return (value > 0 ? "+" : "") + format(value);
}

/**
 * One alert as a sentence, in parts (strings and elements):
 * "Complaint rate 0.42% over the last 60 min (above 0.30%) — Email · since 14:02".
 * Without `value`, only what was measured and where: "Complaint rate — Email" (the list has
 * the value in a column of its own).
 */
export function describeAlert(alert, { metrics = {}, dimensions = {} } = {}, { value = true, since = true } = {}) {
  const parts = [];
  const stall = isStall(alert);
  const span = value && alert.span_minutes ? ` over the last ${formatCount(alert.span_minutes)} min` : "";
  if (stall) {
    parts.push(h("strong", { class: "alert-what" }, "Sending stalled"));
    if (value) parts.push(`: sends but no deliveries${span}`);
  } else {
    const metric = metricOf(alert, metrics);
    const format = formatter(metric);
    parts.push(h("strong", { class: "alert-what" }, metric.label, value ? [" ", shownValue(alert, format)] : []));
    if (value) parts.push(span, conditionText(alert, format, ", "));
  }
  if (alert.dimension && alert.key !== null && alert.key !== undefined) {
    const dimension = dimensions[alert.dimension];
    parts.push(` for ${dimension ? dimension.label.toLowerCase() : alert.dimension} “`,
      h("span", { class: "alert-key" }, alert.key), "”");
  }
  parts.push(` — ${channelName(alert.channel)}`);
  if (alert.execution) parts.push(" · execution “", h("span", { class: "alert-key" }, alert.execution), "”");
  if (since && alert.fired_at) {
    parts.push(" · since ", h("time", {
      datetime: alert.fired_at, title: `${formatDateTime(alert.fired_at)} (${zoneLabel()})`,
    }, formatTime(alert.fired_at)));
  }
  return parts;
}

function isStall(alert) {
  return alert.condition === "stall" || alert.metric === "stall";
}

/** The value as shown, carrying its raw number as the dashboard's other numbers do. */
function shownValue(alert, format) {
  return h("span", { class: "alert-value", dataset: { metric: alert.metric || "", value: rawValue(alert.value) } },
    format(alert.value));
}

/** "(above 0.30%)"; with a baseline, ", against 0.10% before (a change above +0.20%)". */
function conditionText(alert, format, lead) {
  const baseline = alert.baseline !== null && alert.baseline !== undefined;
  let text = baseline ? `${lead}against ${format(alert.baseline)} before` : "";
  if (alert.threshold !== null && alert.threshold !== undefined && (alert.condition === "above" || alert.condition === "below")) {
    text += baseline
      ? ` (a change ${alert.condition} ${signed(alert.threshold, format)})`
      : ` (${alert.condition} ${format(alert.threshold)})`;
  }
  return text;
}

function severityTag(severity) {
  const sev = severityOf(severity);
  return h("span", { class: `severity-tag alert-${sev}` }, SEVERITIES[sev]);
}

/**
 * The badge of a campaign with open alerts in the campaign list ("2 alerts" in the colour of
 * the worst), a link to its alerts; null when none is firing.
 */
export function alertBadge(row, href) {
  const count = Number(row.open_alerts) || 0;
  if (count <= 0) return null;
  const sev = severityOf(row.alert_severity);
  return h("a", {
    href, class: `alert-badge alert-${sev}`,
    "aria-label": `${plural(count, "firing alert", "firing alerts")}, the worst ${SEVERITIES[sev].toLowerCase()}: show the alerts`,
    dataset: { alerts: count, severity: sev },
  }, plural(count, "alert", "alerts"));
}

/**
 * The alerts of one campaign on its report page: the banner above the tabs, the list in a
 * dialog (#alerts-dialog), acknowledging from either.
 */
export class CampaignAlerts {
  constructor({ campaign, catalogue, canAcknowledge }) {
    this.campaign = campaign;
    this.ctx = { metrics: catalogue.metrics || {}, dimensions: catalogue.dimensions || {} };
    this.canAcknowledge = canAcknowledge;
    this.firing = [];
    this.errors = new Map();
    this.listed = null;
    this.stopped = false;
    this.banner = $("#alert-banner");
    this.dialog = $("#alerts-dialog");
    this.listRequest = 0;
    $("#alerts-all").addEventListener("click", () => this.openList());
    $("#alerts-open").addEventListener("click", () => this.openList());
    $("#alerts-close").addEventListener("click", () => this.dialog.close());
    this.dialog.addEventListener("close", () => {
      if (location.hash === "#alerts") history.replaceState(null, "", location.pathname + location.search);
      if (this.returnFocus && this.returnFocus.isConnected) this.returnFocus.focus();
    });
    if (location.hash === "#alerts") this.openList();
  }

  /** The firing alerts of the campaign, as the live stream sent them. */
  update(alerts) {
    if (this.stopped) return;
    const before = new Set(this.firing.map((a) => a.id));
    this.firing = sortAlerts(alerts.filter((a) => (a.state || "firing") === "firing"));
    for (const id of this.errors.keys()) if (!this.firing.some((a) => a.id === id)) this.errors.delete(id);
    const fresh = this.firing.filter((a) => !before.has(a.id));
    this.renderBanner();
    const status = $("#alert-status");
    if (fresh.length) status.textContent = `${plural(fresh.length, "alert", "alerts")} fired: ${fresh.map((a) => a.rule).join(", ")}`;
    else if (!this.firing.length && before.size) status.textContent = "No alert is firing any more.";
    if (this.dialog.open) this.loadList();
  }

  /** The campaign does not exist: nothing to show. */
  stop() {
    this.stopped = true;
    this.banner.hidden = true;
  }

  /** The times again, in the zone the user just chose. */
  retime() {
    this.renderBanner();
    if (this.listed) this.renderList();
  }

  renderBanner() {
    const focused = this.banner.contains(document.activeElement) ? document.activeElement.dataset.focus : null;
    const lines = clear($("#alert-lines"));
    if (!this.firing.length) {
      this.banner.hidden = true;
      return;
    }
    const worst = severityOf(this.firing[0].severity);
    this.banner.className = `alert-banner alert-${worst}`;
    this.banner.dataset.severity = worst;
    $("#alert-banner-title").textContent = `${plural(this.firing.length, "alert", "alerts")} firing`;
    for (const alert of this.firing) {
      const sev = severityOf(alert.severity);
      const textId = uniqueId("alert-text");
      lines.append(h("li", {
        class: `alert-line alert-${sev}`,
        dataset: { alert: alert.id, rule: alert.rule, severity: sev },
      },
      severityTag(sev),
      h("span", { class: "alert-text", id: textId }, describeAlert(alert, this.ctx),
        h("span", { class: "alert-rule" }, " · rule ", h("span", { class: "alert-key" }, alert.rule))),
      this.ackPart(alert, textId)));
    }
    this.banner.hidden = false;
    if (focused) {
      const again = this.banner.querySelector(`[data-focus="${CSS.escape(focused)}"]`);
      if (again) again.focus();
    }
  }

  /** "acknowledged by X", an Acknowledge button for those who may, or nothing. */
  ackPart(alert, describedBy) {
    const error = this.errors.get(alert.id);
    if (alert.acknowledged_by) {
      return h("span", {
        class: "alert-acked", tabindex: "-1", dataset: { focus: `acked-${alert.id}` },
        title: alert.acknowledged_at ? `at ${formatDateTime(alert.acknowledged_at)} (${zoneLabel()})` : null,
      }, "acknowledged by ", h("span", { class: "alert-key" }, alert.acknowledged_by));
    }
    if (!this.canAcknowledge || alert.state === "resolved") return null;
    const button = h("button", {
      type: "button", class: "btn btn-small alert-ack", "aria-describedby": describedBy,
      dataset: { focus: `ack-${alert.id}` },
      onclick: () => this.acknowledge(alert, button),
    }, "Acknowledge");
    return h("span", { class: "alert-ack-part" }, button,
      error ? h("span", { class: "form-error", role: "alert" }, error) : null);
  }

  async acknowledge(alert, button) {
    // Asked before waiting: the live stream may redraw the banner meanwhile.
    const inBanner = this.banner.contains(button);
    button.disabled = true;
    button.textContent = "Acknowledging…";
    this.errors.delete(alert.id);
    let acked = null;
    try {
      acked = await api(`/v1/alerts/${encodeURIComponent(alert.id)}/ack`, { method: "POST" });
    } catch (err) {
      this.errors.set(alert.id, err.status === 403
        ? "Not acknowledged: your role may not acknowledge alerts."
        : `Not acknowledged: ${err.message}`);
    }
    if (acked && acked.id === alert.id) {
      this.firing = this.firing.map((a) => (a.id === acked.id ? { ...a, ...acked } : a));
      if (this.listed) this.listed = this.listed.map((a) => (a.id === acked.id ? { ...a, ...acked } : a));
    }
    this.renderBanner();
    if (this.listed) this.renderList();
    // Keep the keyboard where it was: on the note that replaced the button, or the button again.
    const root = inBanner ? this.banner : this.dialog;
    const next = root.querySelector(`[data-focus="acked-${CSS.escape(String(alert.id))}"]`) ||
      root.querySelector(`[data-focus="ack-${CSS.escape(String(alert.id))}"]`);
    if (next) next.focus();
  }

  // --- the list ---------------------------------------------------------------------------

  openList() {
    this.returnFocus = document.activeElement;
    if (!this.dialog.open) this.dialog.showModal();
    if (location.hash !== "#alerts") history.replaceState(null, "", location.pathname + location.search + "#alerts");
    $("#alerts-close").focus();
    this.loadList();
  }

  async loadList() {
    const request = ++this.listRequest;
    if (this.listed === null) {
      $("#alerts-summary").textContent = "Loading…";
    }
    const params = new URLSearchParams({ campaign: this.campaign, state: "all" });
    try {
      const data = await api(`/v1/alerts?${params}`);
      if (request !== this.listRequest) return;
      this.listed = Array.isArray(data) ? data : data.alerts || [];
      this.listProblem = null;
    } catch (err) {
      if (request !== this.listRequest) return;
      this.listProblem = `The alerts could not be loaded: ${err.message}`;
    }
    this.renderList();
  }

  renderList() {
    const body = clear($("#alerts-body"));
    if (this.watcher) this.watcher.stop();
    this.watcher = null;
    if (this.listProblem) body.append(h("p", { class: "notice notice-error", role: "alert" }, this.listProblem));
    const alerts = this.listed || [];
    const firing = alerts.filter((a) => a.state === "firing").length;
    $("#alerts-summary").textContent = this.listed === null ? "" : alerts.length
      ? `The most recent first: ${plural(alerts.length, "alert", "alerts")}, ${formatCount(firing)} firing. Times in ${zoneLabel()}.`
      : "No alert has fired for this campaign.";
    if (!alerts.length) return;
    const table = h("table", { class: "table alerts-table" },
      h("caption", { class: "sr-only" }, "Recent alerts of this campaign, the most recent first"),
      h("thead", {}, h("tr", {}, ["State", "Severity", "Rule", "Measure", "Value", "Volume", "Fired", "Resolved", "Acknowledged by"]
        .map((name) => h("th", { scope: "col", class: name === "Value" || name === "Volume" ? "num" : null }, name)))),
      h("tbody", {}, alerts.map((alert) => this.listRow(alert))));
    const box = h("div", { class: "table-wrap alerts-wrap" }, table);
    const { frame, cue, watcher } = scrollable(box, { label: "Alerts table", nouns: { x: "columns", y: "alerts" } });
    this.watcher = watcher;
    body.append(frame, cue);
  }

  listRow(alert) {
    const sev = severityOf(alert.severity);
    const format = formatter(metricOf(alert, this.ctx.metrics));
    const textId = uniqueId("alert-row");
    const state = alert.state in STATES ? alert.state : "firing";
    const value = isStall(alert)
      ? ["no deliveries", h("span", { class: "muted" }, ` in ${formatCount(alert.span_minutes)} min`)]
      : [shownValue(alert, format), h("span", { class: "muted" }, conditionText(alert, format, " "))];
    return h("tr", { dataset: { alert: alert.id, state, severity: sev, rule: alert.rule } },
      h("td", {}, h("span", { class: `state-tag state-${state}` }, STATES[state])),
      h("td", {}, severityTag(sev)),
      h("th", { scope: "row", class: "alert-key" }, alert.rule),
      h("td", { class: "alert-what-cell", id: textId }, describeAlert(alert, this.ctx, { value: false, since: false })),
      h("td", { class: "num alert-value-cell" }, value),
      h("td", { class: "num", dataset: { metric: "volume", value: rawValue(alert.volume) } }, formatCount(alert.volume)),
      h("td", {}, this.when(alert.fired_at)),
      h("td", {}, this.when(alert.resolved_at)),
      h("td", {}, this.ackPart(alert, textId) || DASH));
  }

  when(iso) {
    return iso ? h("time", { datetime: iso }, formatDateTime(iso)) : DASH;
  }
}
