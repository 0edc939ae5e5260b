// The campaign overview: GET /v1/campaigns over a period, one page at a time, sorted, filtered
// and searched by the server, refreshed every few seconds. Every choice lives in the page's
// address (period.js for the period), so a reload or a shared link shows the same view; a
// campaign with firing alerts wears a badge in the colour of the worst.

import { alertBadge } from "./alerts.js";
import { api, campaignPage } from "./api.js";
import { loadCatalogue, overviewMetrics } from "./catalogue.js";
import { loadAccount } from "./chrome.js";
import { $, clear, h } from "./dom.js";
import { formatAgo, formatCount, formatDateTime, formatValue, rawValue } from "./format.js";
import {
  PeriodPicker, periodKey, periodParams, periodRefusal, periodPhrase, periodTitle, readPeriod, writePeriod,
} from "./period.js";
import { scrollable } from "./scrollcue.js";

const REFRESH_MS = 10_000;
const SEARCH_DELAY_MS = 300;
const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 500;
const STATUSES = {
  sending: { label: "Sending", phrase: "sending now", help: "Messages went out in the last 15 minutes" },
  finished: { label: "Finished", phrase: "finished", help: "Nothing sent in the last 15 minutes, but events in the last hour" },
  quiet: { label: "Quiet", phrase: "quiet", help: "No event in the last hour" },
};
/** The table's columns; `sort` names the server's sort, `metric` a number of the row: the
 * overview's numbers, as the catalogue lists them, each sortable by its name. */
function tableColumns() {
  return [
    { id: "campaign", label: "Campaign", sort: "campaign" },
    { id: "channels", label: "Channels" },
    { id: "status", label: "Status" },
    ...overviewMetrics().map((name) => ({ id: name, metric: name, sort: name })),
    { id: "activity", label: "Events", sort: "events", num: true },
    { id: "last", label: "Last activity", sort: "last" },
  ];
}
const SPARK = { width: 96, height: 24 };
const SVG = "http://www.w3.org/2000/svg";

/** What the page shows, as its address says; the period once the catalogue is loaded. */
function readView(query) {
  const whole = (name, fallback, high) => {
    const n = Number.parseInt(query.get(name) || "", 10);
    return Number.isFinite(n) && n >= 0 ? Math.min(n, high) : fallback;
  };
  return {
    period: null,
    q: query.get("q") || "",
    channel: query.get("channel") || "",
    status: query.get("status") || "",
    sort: query.get("sort") || "",
    order: query.get("order") || "",
    limit: Math.max(1, whole("limit", DEFAULT_LIMIT, MAX_LIMIT)),
    offset: whole("offset", 0, 10 ** 9),
  };
}

const query = new URLSearchParams(location.search);
const view = readView(query);
// metrics: the catalogue's labels and formats; channels: each channel's name (its report tab's);
// columns: the table's (tableColumns).
const state = { answer: null, metrics: {}, channels: {}, columns: [], asked: 0, picker: null, watcher: null };
const search = $("#search");

/** The API's query of the view (and the page's address less its path). */
function viewParams({ compare = false } = {}) {
  const params = { ...periodParams(view.period, { compare }) };
  for (const name of ["q", "channel", "status", "sort", "order"]) if (view[name]) params[name] = view[name];
  if (view.limit !== DEFAULT_LIMIT) params.limit = String(view.limit);
  if (view.offset) params.offset = String(view.offset);
  return params;
}

function syncUrl() {
  const url = new URL(location.href);
  for (const name of ["q", "channel", "status", "sort", "order", "limit", "offset"]) url.searchParams.delete(name);
  writePeriod(url, view.period);
  for (const [name, value] of Object.entries(viewParams())) url.searchParams.set(name, value);
  history.replaceState(null, "", url);
}

/** A campaign's report over the period shown here. */
function reportLink(campaign, period) {
  const query = new URLSearchParams(periodParams(period, { compare: false })).toString();
  return campaignPage(campaign) + (query ? `?${query}` : "");
}

// --- the rows ----------------------------------------------------------------------------------

function stepName(seconds) {
  const unit = (n, one, many) => (n === 1 ? one : `${formatCount(n)} ${many}`);
  if (seconds % 86_400 === 0) return unit(seconds / 86_400, "day", "days");
  if (seconds % 3600 === 0) return unit(seconds / 3600, "hour", "hours");
  return unit(Math.round(seconds / 60), "minute", "minutes");
}

/** An inline SVG line of the events per step; its label reads the numbers out. */
function sparkline(values, step) {
  const svg = document.createElementNS(SVG, "svg");
  const top = Math.max(1, ...values);
  const dx = values.length > 1 ? SPARK.width / (values.length - 1) : 0;
  const points = values.map((v, i) => `${(i * dx).toFixed(1)},${(SPARK.height - 1 - (v / top) * (SPARK.height - 2)).toFixed(1)}`);
  const attrs = {
    class: "sparkline", viewBox: `0 0 ${SPARK.width} ${SPARK.height}`, width: SPARK.width, height: SPARK.height,
    role: "img", "aria-label": `Events per ${stepName(step)}: ${values.map((v) => formatCount(v)).join(", ")}`,
    preserveAspectRatio: "none", "data-values": values.join(","),
  };
  for (const [name, value] of Object.entries(attrs)) svg.setAttribute(name, String(value));
  const line = document.createElementNS(SVG, "polyline");
  line.setAttribute("points", points.join(" "));
  svg.append(line);
  return svg;
}

function metricCell(name, value) {
  const format = (state.metrics[name] || {}).format;
  return h("td", { class: "num", dataset: { metric: name, value: rawValue(value) } }, formatValue(value, format));
}

function row(c) {
  const link = reportLink(c.campaign, view.period);
  const channels = c.channels.length
    ? h("ul", { class: "chips", "aria-label": "Channels" },
      c.channels.map((ch) => h("li", { class: `chip chip-${ch}` }, state.channels[ch] || ch)))
    : h("span", { class: "muted" }, "Campaign level only");
  const status = STATUSES[c.status] || { label: c.status, help: "" };
  return h("tr", { dataset: { campaign: c.campaign } },
    h("th", { scope: "row" }, h("a", { href: link, class: "campaign-link" }, c.campaign), alertBadge(c, `${link}#alerts`)),
    h("td", {}, channels),
    h("td", {}, h("span", { class: `status status-${c.status}`, title: status.help, dataset: { status: c.status } }, status.label)),
    ...overviewMetrics().map((name) => metricCell(name, c.metrics[name])),
    h("td", { class: "num activity", dataset: { metric: "events_in_window", value: rawValue(c.events_in_window) } },
      h("span", { class: "activity-cell" }, sparkline(c.sparkline, state.answer.sparkline_step),
        h("span", { class: "activity-count" }, formatCount(c.events_in_window)))),
    h("td", {}, h("time", { datetime: c.last, title: formatDateTime(c.last) }, formatAgo(c.last))),
  );
}

// --- the table head: sortable columns ------------------------------------------------------------

function columnLabel(column) {
  return column.label || (state.metrics[column.metric] || {}).label || column.metric;
}

function buildTable() {
  const heads = state.columns.map((column) => {
    const numeric = Boolean(column.metric || column.num);
    const th = h("th", { scope: "col", class: numeric ? "num" : null, dataset: { col: column.id } });
    if (!column.sort) {
      th.append(columnLabel(column));
      return th;
    }
    th.append(h("button", { type: "button", class: "sort", dataset: { sort: column.sort }, onclick: () => sortBy(column.sort) },
      columnLabel(column), h("span", { class: "sort-icon sort-none", "aria-hidden": "true" })));
    return th;
  });
  const table = h("table", { class: "table campaigns", id: "campaigns" },
    h("caption", { class: "sr-only", id: "campaigns-caption" }, "Campaigns of your organisation"),
    h("thead", {}, h("tr", {}, heads)),
    h("tbody", { id: "campaign-rows" }));
  const box = h("div", { class: "table-wrap campaigns-wrap" }, table);
  const { frame, cue, watcher } = scrollable(box, { label: "Campaigns table", nouns: { x: "columns", y: "campaigns" } });
  $("#list-card").prepend(frame, cue);
  state.watcher = watcher;
}

function markSort(sort, order) {
  const dir = order === "asc" ? "ascending" : "descending";
  for (const th of document.querySelectorAll("#campaigns thead th")) {
    const button = th.querySelector(".sort");
    if (!button) continue;
    const on = button.dataset.sort === sort;
    th.setAttribute("aria-sort", on ? dir : "none");
    button.querySelector(".sort-icon").className = `sort-icon sort-${on ? dir : "none"}`;
  }
  const column = state.columns.find((c) => c.sort === sort);
  const up = order === "asc";
  const how = sort === "campaign" ? (up ? "A to Z" : "Z to A")
    : sort === "last" || sort === "first" ? (up ? "oldest first" : "most recent first")
      : (up ? "lowest first" : "highest first");
  $("#campaigns-caption").textContent =
    `Campaigns of your organisation, by ${column ? columnLabel(column).toLowerCase() : sort}, ${how}`;
}

function sortBy(sort) {
  const shown = state.answer || { sort: view.sort || "last", order: view.order || "desc" };
  if (shown.sort === sort) view.order = shown.order === "asc" ? "desc" : "asc";
  else view.order = sort === "campaign" ? "asc" : "desc";
  view.sort = sort;
  view.offset = 0;
  changed();
}

// --- the filters ---------------------------------------------------------------------------------

function buildFilters() {
  const group = $("#status-filter");
  const choices = [["", "All"], ...Object.entries(STATUSES).map(([id, s]) => [id, s.label])];
  for (const [id, label] of choices) {
    group.append(h("button", {
      type: "button", class: "status-choice", dataset: { status: id || "all" }, "aria-pressed": String(view.status === id),
      title: id ? STATUSES[id].help : "Campaigns of every status",
      onclick: () => {
        view.status = id;
        view.offset = 0;
        changed();
      },
    }, h("span", { class: id ? `status-dot status-${id}` : "status-dot", "aria-hidden": "true" }),
    label, " ", h("span", { class: "status-count" })));
  }
  const channel = $("#channel");
  channel.append(...Object.entries(state.channels).map(([id, label]) => h("option", { value: id }, label)));
  channel.value = view.channel in state.channels ? view.channel : "";
  channel.addEventListener("change", () => {
    view.channel = channel.value;
    view.offset = 0;
    changed();
  });
  search.value = view.q;
  let timer = 0;
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      view.q = search.value.trim();
      view.offset = 0;
      changed();
    }, SEARCH_DELAY_MS);
  });
  $("#previous").addEventListener("click", () => {
    view.offset = Math.max(0, view.offset - view.limit);
    changed();
  });
  $("#next").addEventListener("click", () => {
    view.offset += view.limit;
    changed();
  });
}

function markFilters(statuses) {
  const all = Object.values(statuses).reduce((a, b) => a + b, 0);
  for (const button of document.querySelectorAll(".status-choice")) {
    const id = button.dataset.status === "all" ? "" : button.dataset.status;
    button.setAttribute("aria-pressed", String(view.status === id));
    const count = id ? statuses[id] || 0 : all;
    button.querySelector(".status-count").textContent = formatCount(count);
    button.dataset.count = String(count);
  }
}

// --- showing an answer -----------------------------------------------------------------------------

function filtered() {
  return Boolean(view.q || view.channel || view.status);
}

function emptyText(data) {
  if (!data.campaigns_total) {
    return "No campaigns yet. Send events to POST /v1/events with an ingest key, and they appear here within seconds.";
  }
  if (data.total && !data.campaigns.length) return "This page is past the last campaign: go back with Previous.";
  const others = [];
  if (view.status) others.push((STATUSES[view.status] || { phrase: view.status }).phrase);
  if (view.channel) others.push(`on ${state.channels[view.channel] || view.channel}`);
  if (view.q) return `No campaign id contains “${view.q}”${others.length ? ` among the campaigns ${others.join(" and ")}` : ""}.`;
  return `No campaign ${others.join(" and ")}. Choose another status or channel to see the others.`;
}

function render() {
  const data = state.answer;
  markSort(data.sort, data.order);
  markFilters(data.statuses);
  clear($("#campaign-rows")).append(...data.campaigns.map(row));
  state.watcher.refresh();
  const empty = $("#list-empty");
  empty.textContent = data.campaigns.length ? "" : emptyText(data);
  empty.hidden = data.campaigns.length > 0;
  $("#campaigns").hidden = data.campaigns.length === 0;
  const first = data.campaigns.length ? data.offset + 1 : 0;
  const last = data.offset + data.campaigns.length;
  const range = $("#pager-range");
  range.textContent = data.total ? `${formatCount(first)}–${formatCount(last)} of ${formatCount(data.total)}` : "";
  Object.assign(range.dataset, { first, last, total: data.total });
  $("#previous").disabled = data.offset === 0;
  $("#next").disabled = last >= data.total;
  $("#pager").hidden = data.total <= data.limit && data.offset === 0;
  const sending = data.statuses.sending || 0;
  $("#list-summary").textContent = [
    `${formatCount(data.campaigns_total)} ${data.campaigns_total === 1 ? "campaign" : "campaigns"}`,
    filtered() ? `${formatCount(data.total)} ${data.total === 1 ? "matches" : "match"} your filters` : null,
    `${formatCount(sending)} sending now`,
    `numbers ${periodPhrase(view.period)}`,
  ].filter(Boolean).join(" · ");
  $("#period-title").textContent = periodTitle(view.period);
  // The rows shown are those of the view asked (tests wait for this mark).
  $("#list-card").dataset.view = new URLSearchParams(viewParams()).toString();
  $("#list-card").dataset.period = periodKey(view.period);
}

async function refresh() {
  const asked = ++state.asked;
  const query = new URLSearchParams(viewParams()).toString();
  try {
    const data = await api(`/v1/campaigns${query ? `?${query}` : ""}`);
    if (asked !== state.asked) return; // a newer view was asked meanwhile
    state.answer = data;
    $("#list-problem").hidden = true;
    render();
  } catch (err) {
    if (asked !== state.asked) return;
    const problem = $("#list-problem");
    problem.textContent = `The campaign list could not be loaded: ${err.message}`;
    problem.hidden = false;
  }
}

/** The view changed: into the address, then the server's answer. */
function changed() {
  syncUrl();
  $("#list-card").setAttribute("aria-busy", "true");
  refresh().finally(() => $("#list-card").setAttribute("aria-busy", "false"));
}

// --- the period ------------------------------------------------------------------------------------

function changePeriod(period) {
  view.period = { ...period, compare: false };
  state.picker.set(view.period);
  view.offset = 0;
  changed();
}

/** A custom period the server refuses (outside the retention, say): its message, or null. */
const checkPeriod = (period) =>
  periodRefusal((params) => `/v1/campaigns?${new URLSearchParams({ ...params, limit: "1" })}`, period);

// --- start -------------------------------------------------------------------------------------------

async function start() {
  loadAccount().catch(() => {});
  try {
    const catalogue = await loadCatalogue();
    state.metrics = catalogue.metrics;
    state.columns = tableColumns();
    view.period = readPeriod(query);
    // The channels as their report tabs name them; the campaign level is no channel.
    state.channels = Object.fromEntries(catalogue.tabs.filter((t) => t.id !== "campaign").map((t) => [t.id, t.title]));
  } catch (err) {
    const problem = $("#list-problem");
    problem.textContent = `The campaign list could not start: ${err.message}`;
    problem.hidden = false;
    return;
  }
  buildTable();
  buildFilters();
  state.picker = new PeriodPicker(view.period, {
    onChange: changePeriod,
    check: checkPeriod,
    shown: () => (state.answer ? { from: state.answer.from, to: state.answer.to, live: state.answer.live } : null),
  });
  syncUrl();
  await refresh();
  setInterval(refresh, REFRESH_MS);
}
start();
