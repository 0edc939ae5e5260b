// The campaign list: GET /v1/campaigns, searchable, refreshed every few seconds; a campaign
// with firing alerts wears a badge in the colour of the worst.

import { alertBadge } from "./alerts.js";
import { api, campaignPage } from "./api.js";
import { loadAccount } from "./chrome.js";
import { $, clear, h } from "./dom.js";
import { formatAgo, formatCount, formatDateTime, rawValue } from "./format.js";

const REFRESH_MS = 10_000;
const CHANNELS = {
  email: "Email", sms: "SMS", push: "Push", inapp: "In-app", web: "Web", directmail: "Direct mail",
};

const search = $("#search");
let campaigns = null;

function row(c) {
  const link = h("a", { href: campaignPage(c.campaign), class: "campaign-link" }, c.campaign);
  const channels = c.channels.length
    ? h("ul", { class: "chips", "aria-label": "Channels" },
      c.channels.map((ch) => h("li", { class: `chip chip-${ch}` }, CHANNELS[ch] || ch)))
    : h("span", { class: "muted" }, "Campaign level only");
  return h("tr", { dataset: { campaign: c.campaign } },
    h("th", { scope: "row" }, link, alertBadge(c, `${campaignPage(c.campaign)}#alerts`)),
    h("td", {}, channels),
    h("td", {}, h("time", { datetime: c.last, title: formatDateTime(c.last) }, formatAgo(c.last))),
    h("td", { class: "num", dataset: { metric: "events_in_window", value: rawValue(c.events_in_window) } },
      formatCount(c.events_in_window)),
  );
}

function render() {
  if (campaigns === null) return;
  const query = search.value.trim().toLowerCase();
  const shown = campaigns.filter((c) => c.campaign.toLowerCase().includes(query));
  clear($("#campaign-rows")).append(...shown.map(row));
  const empty = $("#list-empty");
  if (!campaigns.length) {
    empty.textContent = "No campaigns yet. Send events to POST /v1/events with an ingest key, and they appear here within seconds.";
  } else if (!shown.length) {
    empty.textContent = `No campaign id contains “${search.value.trim()}”.`;
  }
  empty.hidden = shown.length > 0;
  const active = campaigns.filter((c) => c.events_in_window > 0).length;
  const alerting = campaigns.filter((c) => c.open_alerts > 0).length;
  $("#list-summary").textContent =
    `${formatCount(campaigns.length)} campaigns · ${formatCount(active)} with events in the last 24 hours` +
    (alerting ? ` · ${formatCount(alerting)} with firing alerts` : "");
}

async function refresh() {
  try {
    const data = await api("/v1/campaigns");
    campaigns = data.campaigns;
    $("#list-problem").hidden = true;
    render();
  } catch (err) {
    const problem = $("#list-problem");
    problem.textContent = `The campaign list could not be loaded: ${err.message}`;
    problem.hidden = false;
  }
}

search.value = new URLSearchParams(location.search).get("q") || "";
search.addEventListener("input", () => {
  const url = new URL(location.href);
  if (search.value) url.searchParams.set("q", search.value);
  else url.searchParams.delete("q");
  history.replaceState(null, "", url);
  render();
});

loadAccount().catch(() => {});
refresh();
setInterval(refresh, REFRESH_MS);
