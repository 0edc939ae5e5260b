// The org totals: GET /v1/totals over a period, one card per channel with events (its metrics,
// and their change from the previous period when asked), and the campaigns that lead by one
// metric of one channel. The period, the comparison and the ranking live in the page's address.

import { api, campaignPage } from "./api.js";
import { loadCatalogue } from "./catalogue.js";
import { loadAccount } from "./chrome.js";
import { $, clear, h } from "./dom.js";
import { formatCount, formatTime, formatValue, rawValue, zoneLabel } from "./format.js";
import {
  PeriodPicker, describeChange, formatRange, periodKey, periodParams, periodRefusal, periodPhrase, periodTitle, readPeriod,
  writePeriod,
} from "./period.js";
import { scrollable } from "./scrollcue.js";

const REFRESH_MS = 10_000;
const DEFAULT_CHANNEL = "email";
const DEFAULT_TOP = "sent";
/** The campaign level sums every channel: its card comes first, under this name. */
const ALL_CHANNELS = "All channels";

const query = new URLSearchParams(location.search);
// The period is read once the catalogue, which names the presets, is loaded.
const view = {
  period: null,
  channel: query.get("channel") || DEFAULT_CHANNEL,
  top: query.get("top") || DEFAULT_TOP,
};
const state = { catalogue: null, names: {}, answer: null, asked: 0, picker: null, watcher: null };

function syncUrl() {
  const url = new URL(location.href);
  writePeriod(url, view.period);
  for (const [name, value, fallback] of [["channel", view.channel, DEFAULT_CHANNEL], ["top", view.top, DEFAULT_TOP]]) {
    if (value === fallback) url.searchParams.delete(name);
    else url.searchParams.set(name, value);
  }
  history.replaceState(null, "", url);
}

function metricOf(name) {
  return state.catalogue.metrics[name] || { label: name, format: "count", help: "" };
}

function reportLink(campaign) {
  const params = new URLSearchParams(periodParams(view.period, { compare: false })).toString();
  return campaignPage(campaign) + (params ? `?${params}` : "");
}

// --- the channel cards ---------------------------------------------------------------------------

function changeOf(name, current, previous) {
  const metric = metricOf(name);
  const change = describeChange(metric, current, previous);
  const before = previous === null || previous === undefined ? "none" : formatValue(previous, metric.format);
  return h("span", {
    class: "change", title: [change.title, `Previous period: ${before}`].filter(Boolean).join(". "),
    dataset: { changeOf: name, previous: rawValue(previous), change: rawValue(change.delta) },
  }, change.text);
}

function channelCard(scope, metrics, previous) {
  const tiles = state.catalogue.channels[scope].map((name) => {
    const metric = metricOf(name);
    const value = metrics[name];
    return h("div", { class: "total-tile", title: metric.help },
      h("dt", { class: "tile-label" }, metric.label),
      h("dd", { class: "total-value" },
        h("span", { class: "tile-value", dataset: { metric: name, value: rawValue(value) } }, formatValue(value, metric.format)),
        previous ? changeOf(name, value, previous[name]) : null));
  });
  return h("section", { class: "card totals-card", dataset: { channel: scope }, "aria-label": state.names[scope] },
    h("h3", { class: "totals-card-title" }, state.names[scope]),
    h("dl", { class: "total-tiles" }, tiles));
}

function hasNumbers(metrics) {
  return Object.values(metrics).some((v) => v !== null && v !== undefined && v !== 0);
}

function renderChannels(data) {
  const shown = Object.keys(state.catalogue.channels).filter((scope) => data.channels[scope] && hasNumbers(data.channels[scope].metrics));
  const previous = data.previous ? data.previous.channels : null;
  clear($("#channel-cards")).append(...shown.map((scope) =>
    channelCard(scope, data.channels[scope].metrics, previous && previous[scope] ? previous[scope].metrics : null)));
  const empty = $("#totals-empty");
  empty.textContent = shown.length ? "" : `No events in your organisation ${periodPhrase(view.period)}. Pick a longer period above, or send events to POST /v1/events.`;
  empty.hidden = shown.length > 0;
}

// --- the top campaigns ---------------------------------------------------------------------------

function buildTop() {
  const channel = $("#top-channel");
  channel.append(...Object.keys(state.catalogue.channels).map((scope) => h("option", { value: scope }, state.names[scope])));
  channel.addEventListener("change", () => {
    view.channel = channel.value;
    fitTop();
    fillMetrics();
    changed();
  });
  $("#top-metric").addEventListener("change", (event) => {
    view.top = event.target.value;
    changed();
  });
  const box = h("div", { class: "table-wrap" },
    h("table", { class: "table top-table", id: "top-table" },
      h("caption", { class: "sr-only", id: "top-caption" }),
      h("thead", {}, h("tr", {},
        h("th", { scope: "col", class: "num" }, "Rank"),
        h("th", { scope: "col" }, "Campaign"),
        h("th", { scope: "col", class: "num", id: "top-value-head" }),
        h("th", { scope: "col", class: "num", id: "top-volume-head" }))),
      h("tbody", { id: "top-rows" })));
  const { frame, cue, watcher } = scrollable(box, { label: "Top campaigns table", nouns: { x: "columns", y: "campaigns" } });
  $("#top-note").after(frame, cue);
  state.watcher = watcher;
}

/** The metrics of the chosen channel that can rank campaigns: not the human/machine split,
 * which the org totals do not read. */
function rankable() {
  return state.catalogue.channels[view.channel].filter((name) => !metricOf(name).split);
}

/** The metric ranked must be one the channel ranks by: sent where it has it, else its first. */
function fitTop() {
  const metrics = rankable();
  if (!metrics.includes(view.top)) view.top = metrics.includes(DEFAULT_TOP) ? DEFAULT_TOP : metrics[0];
}

/** The metric chooser offers the metrics of the chosen channel. */
function fillMetrics() {
  const select = $("#top-metric");
  $("#top-channel").value = view.channel;
  clear(select).append(...rankable().map((name) => h("option", { value: name }, metricOf(name).label)));
  select.value = view.top;
}

function renderTop(top) {
  const metric = metricOf(top.metric);
  const rate = metric.format === "rate";
  const where = top.channel === "campaign" ? "over all channels" : `on ${state.names[top.channel]}`;
  $("#top-value-head").textContent = metric.label;
  $("#top-volume-head").textContent = "Based on";
  $("#top-volume-head").hidden = !rate;
  $("#top-caption").textContent = `Campaigns with the highest ${metric.label.toLowerCase()} ${where}`;
  clear($("#top-rows")).append(...top.campaigns.map((c, i) =>
    h("tr", { dataset: { campaign: c.campaign } },
      h("td", { class: "num" }, formatCount(i + 1)),
      h("th", { scope: "row" }, h("a", { href: reportLink(c.campaign), class: "campaign-link" }, c.campaign)),
      h("td", { class: "num", dataset: { metric: top.metric, value: rawValue(c.value) } }, formatValue(c.value, metric.format)),
      rate ? h("td", { class: "num", dataset: { volume: rawValue(c.volume) } }, formatCount(c.volume)) : null)));
  $("#top-note").textContent = rate
    ? `The campaigns with the highest ${metric.label.toLowerCase()} ${where} ${periodPhrase(view.period)}, counting only those with at least ${formatCount(top.min_volume)} in the rate's denominator (“Based on”), so that a handful of messages cannot lead.`
    : `The campaigns with the most ${metric.label.toLowerCase()} ${where} ${periodPhrase(view.period)}.`;
  const empty = $("#top-empty");
  empty.textContent = top.campaigns.length ? "" : `No campaign has any ${metric.label.toLowerCase()} ${where} ${periodPhrase(view.period)}${rate ? " with enough volume to rank" : ""}.`;
  empty.hidden = top.campaigns.length > 0;
  $("#top-table").hidden = top.campaigns.length === 0;
  state.watcher.refresh();
}

// --- the answer ----------------------------------------------------------------------------------

function render() {
  const data = state.answer;
  $("#period-title").textContent = periodTitle(view.period);
  const parts = [`As of ${formatTime(data.as_of, { seconds: true })} (${zoneLabel()})`];
  if (data.previous) parts.push(`changes against ${formatRange(data.previous.from, data.previous.to)}`);
  $("#totals-summary").textContent = parts.join(" · ");
  renderChannels(data);
  renderTop(data.top);
  // The numbers shown are those of the view asked (tests wait for this mark).
  $("#totals-head").dataset.view = `${periodKey(view.period)}|${view.period.compare}|${view.channel}|${view.top}`;
}

async function refresh() {
  const asked = ++state.asked;
  const params = new URLSearchParams({ ...periodParams(view.period), channel: view.channel, top: view.top });
  try {
    const data = await api(`/v1/totals?${params}`);
    if (asked !== state.asked) return; // a newer view was asked meanwhile
    state.answer = data;
    $("#totals-problem").hidden = true;
    render();
  } catch (err) {
    if (asked !== state.asked) return;
    const problem = $("#totals-problem");
    problem.textContent = `The totals could not be loaded: ${err.message}`;
    problem.hidden = false;
  }
}

function changed() {
  syncUrl();
  refresh();
}

function changePeriod(period) {
  view.period = period;
  state.picker.set(period);
  changed();
}

/** A custom period the server refuses (outside the retention, say): its message, or null. */
const checkPeriod = (period) =>
  periodRefusal((params) => `/v1/totals?${new URLSearchParams({ ...params, limit: "1" })}`, period);

async function start() {
  loadAccount().catch(() => {});
  try {
    state.catalogue = await loadCatalogue();
    view.period = readPeriod(query);
  } catch (err) {
    const problem = $("#totals-problem");
    problem.textContent = `The totals could not start: ${err.message}`;
    problem.hidden = false;
    return;
  }
  // Channels as their report tabs name them.
  state.names = Object.fromEntries(state.catalogue.tabs.map((t) => [t.id, t.id === "campaign" ? ALL_CHANNELS : t.title]));
  if (!(view.channel in state.catalogue.channels)) view.channel = DEFAULT_CHANNEL;
  fitTop();
  buildTop();
  fillMetrics();
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
