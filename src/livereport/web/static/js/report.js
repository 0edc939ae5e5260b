// The campaign live report page: tabs, the live stream, the board of widgets, Modify mode,
// the execution filter, the period (period.js), the time zone, exports and print, the campaign's
// alerts, the Variants card of a channel (variants.js), and the human/machine switch of the tabs
// with opens or clicks (engagement.js). Reads the same JSON as the API; the address carries the
// tab, execution, period and engagement.

import { CampaignAlerts } from "./alerts.js";
import { api, campaignApi, goToSignin } from "./api.js";
import { loadAccount } from "./chrome.js";
import { resizeCharts } from "./charts.js";
import { loadCatalogue } from "./catalogue.js";
import { $, clear, h } from "./dom.js";
import {
  EngagementSwitch, defaultEngagement, engagementParams, engagementPhrase, engagementTabs, readEngagement,
  rememberEngagement, rememberedEngagement, writeEngagement,
} from "./engagement.js";
import {
  browserZone, formatDateTime, formatTime, setTimeZoneChoice, timeZoneChoice, zoneLabel,
} from "./format.js";
import { Board } from "./grid.js";
import { LiveStream } from "./live.js";
import {
  PeriodPicker, formatMoment, guessLive, periodKey, periodParams, periodRefusal, periodPhrase, periodTitle, readPeriod,
  writePeriod,
} from "./period.js";
import { VariantsCard } from "./variants.js";

const campaign = decodeURIComponent(location.pathname.replace(/^\/campaigns\//, ""));
const query = new URLSearchParams(location.search);
const state = {
  tab: query.get("tab") || "campaign",
  execution: query.get("execution") || "",
  period: null, // read once the catalogue, which names the presets, is loaded
  // The address's, else the one the user chose last (start()), else all.
  engagement: readEngagement(query),
  report: null,
  layout: null,
  shown: false,
  catalogue: null,
  me: null,
  asOf: null,
  notFound: false,
  streamProblem: false,
};
let board = null;
let alerts = null;
let variants = null;
let picker = null;
let engagementSwitch = null;
/** The tabs with the human/machine switch (engagement.js). */
let switchTabs = new Set();
let noticeTimer = null;

const ctx = {
  metrics: {},
  dimensions: {},
  campaign,
  get tab() { return state.tab; },
  execution: () => state.execution,
  // Exports follow the period; the comparison is the page's own.
  periodParams: () => periodParams(state.period, { compare: false }),
  periodPhrase: () => periodPhrase(state.period),
  engagementParams: () => engagementParams(shownEngagement()),
  zoneLabel,
  tabWidgets: () => tabInfo(state.tab).widgets.map((w) => w.id),
};

/** The opens and clicks the tab counts: the choice on a tab with the switch, else all. */
function shownEngagement(tab = state.tab) {
  return switchTabs.has(tab) ? state.engagement : defaultEngagement();
}

function tabInfo(id) {
  return state.catalogue.tabs.find((t) => t.id === id) || state.catalogue.tabs[0];
}

// --- tabs -------------------------------------------------------------------------------

function buildTabs() {
  const list = $("#tabs");
  for (const tab of state.catalogue.tabs) {
    list.append(h("button", {
      type: "button", role: "tab", id: `tab-${tab.id}`, "aria-controls": "panel",
      dataset: { tab: tab.id }, onclick: () => openTab(tab.id),
    }, tab.title));
  }
  list.addEventListener("keydown", (event) => {
    const tabs = [...list.querySelectorAll('[role="tab"]')];
    const index = tabs.indexOf(document.activeElement);
    if (index < 0) return;
    const moves = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: tabs.length - 1 };
    if (!(event.key in moves)) return;
    event.preventDefault();
    const next = tabs[(moves[event.key] + tabs.length) % tabs.length];
    next.focus();
    openTab(next.dataset.tab);
  });
}

function markTabs() {
  for (const button of document.querySelectorAll('[role="tab"]')) {
    const selected = button.dataset.tab === state.tab;
    button.setAttribute("aria-selected", String(selected));
    button.tabIndex = selected ? 0 : -1;
  }
  $("#panel").setAttribute("aria-labelledby", `tab-${state.tab}`);
}

async function markChannelsWithoutEvents() {
  try {
    const list = await api(`/v1/campaigns?${new URLSearchParams({ q: campaign, limit: "500" })}`);
    const entry = list.campaigns.find((c) => c.campaign === campaign);
    if (!entry) return;
    for (const button of document.querySelectorAll('[role="tab"]')) {
      const tab = button.dataset.tab;
      button.classList.toggle("no-events", tab !== "campaign" && !entry.channels.includes(tab));
    }
  } catch (err) {
    // Only a hint on the tabs; the report itself says when a tab has no events.
  }
}

function syncUrl() {
  const url = new URL(location.href);
  url.searchParams.set("tab", state.tab);
  if (state.execution) url.searchParams.set("execution", state.execution);
  else url.searchParams.delete("execution");
  writePeriod(url, state.period);
  writeEngagement(url, state.engagement, { named: switchTabs.has(state.tab) });
  history.replaceState(null, "", url);
  $("#export-tab").href = campaignApi(campaign, "export.csv", {
    tab: state.tab, execution: state.execution, ...ctx.periodParams(), ...ctx.engagementParams(),
  });
}

async function openTab(tab) {
  if (board && board.modifying) return;
  if (!state.catalogue.tabs.some((t) => t.id === tab)) tab = "campaign";
  const changed = tab !== state.tab || !state.shown;
  state.tab = tab;
  markTabs();
  syncUrl();
  if (!changed) return;
  engagementSwitch.show(switchTabs.has(tab));
  engagementSwitch.showShare(null); // the share of the tab left
  state.report = null;
  state.layout = null;
  state.shown = false;
  board.clear();
  $("#tab-problem").hidden = true;
  connect();
  try {
    const layout = await api(`/v1/layouts/${tab}`);
    if (tab !== state.tab) return;
    state.layout = layout;
    showBoard();
  } catch (err) {
    showProblem(`The layout of this tab could not be loaded: ${err.message}`);
  }
}

// --- live reports -------------------------------------------------------------------------

const live = new LiveStream({
  onReport: (report) => {
    if (report.tab !== state.tab || (report.execution || "") !== state.execution) return;
    if ((report.engagement || defaultEngagement()) !== shownEngagement()) return;
    state.report = report;
    state.asOf = report.as_of;
    if (state.streamProblem) $("#tab-problem").hidden = true;
    state.streamProblem = false;
    // The numbers shown are now those of the period asked (tests wait for this mark).
    $("#report-head").dataset.period = periodKey(state.period);
    $("#report-head").dataset.engagement = report.engagement || defaultEngagement();
    $("#panel").setAttribute("aria-busy", "false");
    renderHead();
    if (state.shown) board.update(report);
    else showBoard();
    // The variants again: at once for a new view, else at most every few seconds.
    if (variants) {
      variants.update({ tab: state.tab, execution: state.execution, period: state.period, engagement: shownEngagement() });
    }
  },
  onHeartbeat: ({ as_of: asOf }) => {
    if (asOf) state.asOf = asOf;
    renderAsOf();
  },
  onAlerts: (firing) => {
    if (alerts) alerts.update(firing);
  },
  onProblem: (message) => {
    state.streamProblem = true;
    $("#panel").setAttribute("aria-busy", "false");
    showProblem(`The report could not be built: ${message}`);
  },
  onState: (now, before) => renderLiveState(now, before),
  onStopped: (reason, status) => {
    if (reason === "signed-out") goToSignin();
    else if (status === 404) showNotFound();
    else showProblem(reason);
  },
});

function connect() {
  if (state.notFound) return;
  const params = {
    tab: state.tab, execution: state.execution, ...periodParams(state.period), ...engagementParams(shownEngagement()),
  };
  delete $("#report-head").dataset.period;
  delete $("#report-head").dataset.engagement;
  $("#panel").setAttribute("aria-busy", "true");
  if (variants) variants.clear();
  live.open(campaignApi(campaign, "live", params), campaignApi(campaign, "report", params));
}

// --- the period ------------------------------------------------------------------------------

function changePeriod(period) {
  state.period = period;
  picker.set(period);
  syncUrl();
  $("#tab-problem").hidden = true;
  renderPeriod();
  connect();
}

// --- human and machine opens and clicks -------------------------------------------------------

function changeEngagement(engagement) {
  state.engagement = engagement;
  engagementSwitch.set(engagement);
  rememberEngagement(state.me, engagement);
  syncUrl();
  $("#tab-problem").hidden = true;
  connect();
}

/** A custom period the server refuses (outside the retention, say): its message, or null. */
const checkPeriod = (period) => periodRefusal(
  (params) => campaignApi(campaign, "totals", { channel: "campaign", execution: state.execution, ...params }),
  period,
);

/** The report shown is of the period asked (not the one before a change, still on screen). */
function currentReport() {
  return state.report && $("#report-head").dataset.period === periodKey(state.period) ? state.report : null;
}

function periodLive() {
  const report = currentReport();
  return report && typeof report.live === "boolean" ? report.live : guessLive(state.period);
}

function renderPeriod() {
  const report = currentReport();
  const live = periodLive();
  let title = periodTitle(state.period);
  if (state.period.preset === "life" && report && report.from) title += ` (since ${formatMoment(report.from)})`;
  $("#period-title").textContent = title;
  $("#report-kind").textContent = live ? "Campaign live report" : "Campaign report";
  $("#report-head").dataset.live = String(live);
  $("#live-status").dataset.period = live ? "live" : "past";
  renderLiveText();
}

function renderLiveText() {
  const now = $("#live-status").dataset.state;
  const live = periodLive() ? "Live" : "Past period: not live";
  $("#live-text").textContent = { connecting: "Connecting…", live, lost: "Reconnecting…", stopped: "Not live" }[now];
}

function showBoard() {
  // A tab without events shows only its empty state; the widgets come with the first events.
  if (state.shown || !state.layout || !state.report || state.report.empty) return;
  board.show(state.layout, state.report);
  state.shown = true;
}

/** The campaign does not exist (for this org): one message instead of the report, no stream. */
function showNotFound() {
  state.notFound = true;
  live.close();
  if (board) board.clear();
  if (alerts) alerts.stop();
  if (variants) variants.stop();
  document.title = "No such campaign · livereport";
  $("#not-found-id").textContent = campaign;
  for (const id of ["#report-head", "#connection-notice", "#alert-banner", "#tabs", "#panel"]) $(id).hidden = true;
  $("#not-found").hidden = false;
}

function showProblem(message) {
  const problem = $("#tab-problem");
  problem.textContent = message;
  problem.hidden = false;
}

function renderLiveState(now, before) {
  const status = $("#live-status");
  status.dataset.state = now;
  renderLiveText();
  const notice = $("#connection-notice");
  clearTimeout(noticeTimer);
  if (now === "lost") {
    notice.className = "notice notice-warning";
    notice.textContent = "The live connection was lost. Reconnecting by itself… The numbers below may be out of date until it is back.";
    notice.hidden = false;
  } else if (now === "live" && before === "lost") {
    notice.className = "notice notice-ok";
    notice.textContent = "The live connection is back: the numbers are current again.";
    notice.hidden = false;
    noticeTimer = setTimeout(() => { notice.hidden = true; }, 8000);
  } else if (now === "live" || now === "stopped") {
    // Why a stream stopped is said elsewhere: a problem, or no such campaign.
    notice.hidden = true;
  }
}

function renderAsOf() {
  const asOf = $("#as-of");
  asOf.textContent = state.asOf ? ` · as of ${formatTime(state.asOf, { seconds: true })} (${zoneLabel()})` : "";
  if (state.asOf) $("#live-status").dataset.asOf = state.asOf;
}

function renderHead() {
  const report = state.report;
  renderAsOf();
  renderPeriod();
  const select = $("#execution");
  const wanted = [...new Set([...report.executions, ...(state.execution ? [state.execution] : [])])];
  const present = [...select.options].slice(1).map((o) => o.value);
  if (wanted.join("\u0000") !== present.join("\u0000")) {
    select.replaceChildren(h("option", { value: "" }, "All executions"),
      ...wanted.map((e) => h("option", { value: e }, e)));
  }
  select.value = state.execution;
  select.disabled = wanted.length === 0;
  const tab = tabInfo(state.tab);
  const empty = $("#tab-empty");
  if (report.empty) {
    const where = state.tab === "campaign" ? "for this campaign" : `on the ${tab.title} channel`;
    const run = state.execution ? ` for execution “${state.execution}”` : "";
    clear(empty).append(
      h("p", { class: "empty-title" }, `No events ${where} ${periodPhrase(state.period)}${run}.`),
      h("p", { class: "muted" }, periodLive()
        ? "This tab fills in by itself as soon as events arrive."
        : "Pick another period above to see other events."));
  }
  empty.hidden = !report.empty;
  $("#grid").hidden = report.empty;
  $("#modify").disabled = report.empty && !state.shown;
  const button = document.querySelector(`[role="tab"][data-tab="${state.tab}"]`);
  if (button && state.tab !== "campaign") button.classList.toggle("no-events", report.empty);
  engagementSwitch.showShare(report);
  const counted = engagementPhrase(shownEngagement());
  const span = { from: report.from || report.window.from, to: report.to || report.window.to };
  $("#print-meta").textContent =
    `${tab.title} tab · ${periodTitle(state.period)}: ${formatDateTime(span.from)} to ${formatDateTime(span.to)} (${zoneLabel()})` +
    (state.period.compare ? " · compared with the previous period" : "") +
    (state.execution ? ` · execution ${state.execution}` : "") + (counted ? ` · ${counted}` : "") +
    ` · as of ${formatDateTime(report.as_of)}`;
}

// --- help -------------------------------------------------------------------------------

let helpReturn = null;

function showHelp(card) {
  const widget = card.widget;
  $("#help-title").textContent = widget.title;
  $("#help-text").textContent = widget.help;
  const list = h("dl", { class: "metric-help" });
  for (const name of widget.metrics) {
    const metric = ctx.metrics[name];
    if (metric) list.append(h("dt", {}, metric.label), h("dd", {}, metric.help));
  }
  clear($("#help-metrics")).append(list);
  helpReturn = card.el.querySelector(".help");
  $("#help-dialog").showModal();
  $("#help-close").focus();
}

// --- modify mode -------------------------------------------------------------------------

function setModifying(on) {
  document.body.classList.toggle("modifying", on);
  $("#modify-bar").hidden = !on;
  $("#modify").hidden = on || !(state.me && state.me.can_modify);
  $("#modify-error").textContent = "";
  for (const tab of document.querySelectorAll('[role="tab"]')) tab.disabled = on;
  if (on) board.enterModify();
  else board.leaveModify();
  renderRemoved();
  resizeCharts();
}

function renderRemoved() {
  if (!board) return;
  const ids = board.removedIds();
  const list = clear($("#removed-list"));
  const titles = new Map(tabInfo(state.tab).widgets.map((w) => [w.id, w.title]));
  for (const id of ids) {
    list.append(h("li", { dataset: { removed: id } },
      h("span", {}, titles.get(id) || id),
      h("button", {
        type: "button", class: "btn btn-small", "aria-label": `Add ${titles.get(id) || id}`,
        onclick: () => {
          const card = board.add(id);
          if (card) card.el.querySelector(".vis-select").focus();
        },
      }, "Add")));
  }
  $("#removed-none").hidden = ids.length > 0;
}

function onBoardChanged(change = {}) {
  renderRemoved();
  if (change.removed) {
    const add = document.querySelector(`[data-removed="${CSS.escape(change.removed)}"] button`);
    if (add) add.focus();
  }
}

async function modifyAction(action) {
  $("#modify-error").textContent = "";
  try {
    const layout = await action();
    state.layout = layout;
    setModifying(false);
    board.show(layout, state.report);
    $("#modify").focus();
  } catch (err) {
    $("#modify-error").textContent = `The layout was not saved: ${err.message}`;
  }
}

function bindControls() {
  $("#modify").addEventListener("click", () => {
    setModifying(true);
    $("#save").focus();
  });
  $("#save").addEventListener("click", () => modifyAction(() => board.save()));
  $("#cancel").addEventListener("click", () => modifyAction(async () => board.layout));
  $("#reset").addEventListener("click", () => modifyAction(() => board.reset()));
  $("#execution").addEventListener("change", (event) => {
    state.execution = event.target.value;
    syncUrl();
    connect();
  });
  const tz = $("#timezone");
  tz.options[0].textContent = `Browser time (${browserZone()})`;
  tz.value = timeZoneChoice();
  tz.addEventListener("change", () => {
    setTimeZoneChoice(tz.value);
    alerts.retime();
    variants.retime();
    renderPeriod();
    if (state.report) {
      renderHead();
      board.update(state.report);
    }
  });
  picker = new PeriodPicker(state.period, {
    onChange: changePeriod,
    check: checkPeriod,
    shown: () => {
      const report = currentReport();
      return report && report.from ? { from: report.from, to: report.to, live: report.live } : null;
    },
  });
  renderPeriod();
  engagementSwitch = new EngagementSwitch(state.engagement, { onChange: changeEngagement });
  $("#print").addEventListener("click", () => window.print());
  window.addEventListener("beforeprint", resizeCharts);
  window.addEventListener("afterprint", resizeCharts);
  window.matchMedia("print").addEventListener("change", resizeCharts);
  $("#help-close").addEventListener("click", () => $("#help-dialog").close());
  $("#help-dialog").addEventListener("close", () => helpReturn && helpReturn.focus());
}

// --- start ---------------------------------------------------------------------------------

async function start() {
  document.title = `${campaign} · livereport`;
  $("#campaign-title").textContent = campaign;
  $("#crumb-campaign").textContent = campaign;
  try {
    const [me, catalogue] = await Promise.all([loadAccount(), loadCatalogue()]);
    state.me = me;
    state.catalogue = catalogue;
    state.period = readPeriod(query);
  } catch (err) {
    showProblem(`The report could not start: ${err.message}`);
    return;
  }
  ctx.metrics = state.catalogue.metrics;
  ctx.dimensions = state.catalogue.dimensions;
  switchTabs = engagementTabs();
  // The address wins over the choice remembered for this user.
  if (!state.engagement) state.engagement = rememberedEngagement(state.me) || defaultEngagement();
  // Viewers may read alerts but not acknowledge them (the server answers them 403).
  alerts = new CampaignAlerts({ campaign, catalogue: state.catalogue, canAcknowledge: state.me.role !== "viewer" });
  variants = new VariantsCard({ campaign, catalogue: state.catalogue });
  buildTabs();
  board = new Board($("#grid"), ctx, { help: showHelp, changed: onBoardChanged });
  bindControls();
  $("#modify").hidden = !state.me.can_modify;
  markChannelsWithoutEvents();
  openTab(state.tab);
}

start();
