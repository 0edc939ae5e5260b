// Which opens and clicks the report page counts (issue 19, SPEC §11): all of them, only those of
// people, or only those of machines (mail privacy proxies prefetching images, security scanners
// following links). The choice lives in the page's address (engagement=human|machine|all), like
// the period (period.js), so that a reload or a shared link shows the same view, and goes along
// with every report, live stream, variants comparison and export of a tab that has opens or
// clicks. Without one in the address, the page takes the choice the signed-in user made last,
// in any browser (GET /v1/me `settings.engagement`, saved with PUT /v1/me/settings): the
// address wins.
//
// The switch (EngagementSwitch) is a group of native radio buttons styled as a segmented
// control: Tab reaches it, the arrow keys change it. Next to it, the share of opens no person
// made, read from the report's machine_open_share, so that its size is in view whatever the
// switch says. Everything goes in as text.

import { api } from "./api.js";
import { engagement as choices } from "./catalogue.js";
import { $ } from "./dom.js";
import { DASH, formatCount, formatRate, rawValue } from "./format.js";

/** What a report counts when the page asks nothing: every open and click (the catalogue's). */
export function defaultEngagement() {
  return choices().default;
}
/** How the print header and the variants card say what is counted. */
const PHRASES = {
  human: "human opens and clicks only", machine: "machine opens and clicks only",
};

// --- the engagement in the address and in requests -----------------------------------------------

/** The engagement a page address names, or null when it names none. A value the server does
 * not know is kept: its answer (400) says what is allowed, as for a period. */
export function readEngagement(query) {
  const value = (query.get("engagement") || "").trim();
  return value || null;
}

/** The query parameters of an engagement for the API: none for all (its default). */
export function engagementParams(engagement) {
  return engagement && engagement !== defaultEngagement() ? { engagement } : {};
}

/**
 * The engagement in a page address. `named`: the tab shows the switch, so the address names
 * the choice even when it is All (a shared link then shows All to someone who chose Human
 * before); elsewhere only a choice other than All is kept, for the tabs that use it.
 */
export function writeEngagement(url, engagement, { named = false } = {}) {
  url.searchParams.delete("engagement");
  if (engagement && (named || engagement !== defaultEngagement())) url.searchParams.set("engagement", engagement);
}

/** The tabs with the switch: the channels whose opens or clicks are split into human and
 * machine ones (GET /v1/catalogue `engagement.channels`), not the campaign level. */
export function engagementTabs() {
  return new Set(choices().channels);
}

/** "human opens and clicks only", or "" for all. */
export function engagementPhrase(engagement) {
  return PHRASES[engagement] || "";
}

// --- the choice remembered per user ----------------------------------------------------------------

/** The choice `me` (GET /v1/me) made last, or null. */
export function rememberedEngagement(me) {
  const value = me && me.settings ? me.settings.engagement : null;
  return choices().values.includes(value) ? value : null;
}

let saving = Promise.resolve();

/** Saves the choice for the user (every browser); `me` keeps it for this page. Saves go one
 * after another, so that the last choice is the one kept. A failure leaves the page as it
 * is: the address still carries the choice. */
export function rememberEngagement(me, engagement) {
  if (!me || !choices().values.includes(engagement)) return saving;
  saving = saving.then(async () => {
    try {
      const saved = await api("/v1/me/settings", { method: "PUT", body: { engagement }, redirect: false });
      me.settings = saved.settings;
    } catch (err) {
      // Not remembered (the session ended, the server is away): the page goes on.
    }
  });
  return saving;
}

// --- the machine share of a report -----------------------------------------------------------------

/** {share, machine, opens} of the first widget of `report` that has machine_open_share, or
 * null when the tab has none (or no report yet). `opens` counts human and machine opens. */
export function machineShare(report) {
  if (!report || !Array.isArray(report.widgets)) return null;
  for (const widget of report.widgets) {
    const metrics = widget.data && widget.data.metrics;
    if (!metrics || !Object.hasOwn(metrics, "machine_open_share")) continue;
    const { machine_open_share: share, machine_opens: machine, human_opens: human } = metrics;
    const known = (x) => typeof x === "number";
    return {
      share: known(share) ? share : null,
      machine: known(machine) ? machine : null,
      opens: known(machine) && known(human) ? machine + human : null,
    };
  }
  return null;
}

// --- the switch -------------------------------------------------------------------------------------

/**
 * The switch of report.html (#engagement-bar): `onChange(engagement)` when the user picks one.
 */
export class EngagementSwitch {
  constructor(engagement, { onChange }) {
    this.bar = $("#engagement-bar");
    this.radios = [...this.bar.querySelectorAll('input[name="engagement"]')];
    this.share = $("#machine-share");
    this.shareValue = $("#machine-share-value");
    this.shareCounts = $("#machine-share-counts");
    for (const radio of this.radios) {
      radio.addEventListener("change", () => {
        if (radio.checked) onChange(radio.value);
      });
    }
    this.set(engagement);
  }

  /** Show `engagement` as chosen; none checked for a value the server will refuse. */
  set(engagement) {
    for (const radio of this.radios) radio.checked = radio.value === engagement;
    this.bar.dataset.engagement = engagement;
  }

  /** The switch on a tab with opens or clicks; hidden elsewhere. */
  show(on) {
    this.bar.hidden = !on;
    if (!on) this.showShare(null);
  }

  /** The machine share of `report` (see machineShare), or none. */
  showShare(report) {
    const found = report && !report.empty ? machineShare(report) : null;
    if (!found) {
      this.share.hidden = true;
      return;
    }
    const { share, machine, opens } = found;
    this.shareValue.dataset.value = rawValue(share);
    if (share === null) {
      this.shareValue.textContent = DASH;
      this.shareCounts.textContent = " (no opens yet)";
    } else {
      this.shareValue.textContent = formatRate(share);
      this.shareCounts.textContent = machine !== null && opens !== null
        ? ` of opens (${formatCount(machine)} of ${formatCount(opens)})` : " of opens";
    }
    this.share.hidden = false;
  }
}
