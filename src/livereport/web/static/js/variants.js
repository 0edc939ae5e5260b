// The Variants card of the report page: the campaign's variants on the tab's channel compared on
// one rate (GET /v1/campaigns/{c}/variants), with each variant's counts and rate, its lift
// against the control with its interval, and a verdict that holds however often it is read
// (docs/engagement.md). Only on the tabs of a channel with rates, and only when the campaign has
// two variants or more there. Asked again when a new report comes down the live stream, at most
// once every 5 seconds. The rate chosen is remembered per tab, in this browser. Variant names
// come from outside: they go in as text only.

import { api, campaignApi } from "./api.js";
import { lowerIsBetter, variantRates } from "./catalogue.js";
import { $, clear, h } from "./dom.js";
import { engagementParams, engagementPhrase } from "./engagement.js";
import { DASH, formatCount, formatRate, rawValue } from "./format.js";
import { formatMoment, formatRange, periodKey, periodParams, periodPhrase } from "./period.js";
import { scrollable } from "./scrollcue.js";

// The API's verdicts say whether a rate is higher or lower than the control's; for a rate where
// less is better (the catalogue's lower_is_better), a clearly higher rate does worse, so the card
// reads it the other way round (and finds the winner on the rate read that way).
const FLIPPED = { better: "worse", worse: "better", leading: "trailing", trailing: "leading" };
const VERDICTS = {
  better: "better", worse: "worse", leading: "leading", trailing: "trailing", even: "even", too_early: "too early",
};
const MIN_INTERVAL_MS = 5_000;
const STORE_KEY = "livereport.variants.";

const signedOne = new Intl.NumberFormat(undefined, {
  minimumFractionDigits: 1, maximumFractionDigits: 1, signDisplay: "exceptZero",
});
const signedTwo = new Intl.NumberFormat(undefined, {
  minimumFractionDigits: 2, maximumFractionDigits: 2, signDisplay: "exceptZero",
});

const known = (value) => value !== null && value !== undefined;

/** The rate chosen on a tab before, if it is still one of the tab's. */
function storedRate(tab, rates) {
  const stored = localStorage.getItem(STORE_KEY + tab);
  return rates.includes(stored) ? stored : rates[0];
}

/** "+10.2 % (+1.0 % to +19.4 %)"; in points when the control's rate is 0; "–" without a lift. */
function liftText(lift) {
  if (!lift) return DASH;
  const relative = known(lift.relative);
  const [value, low, high] = relative
    ? [lift.relative, lift.relative_low, lift.relative_high]
    : [lift.absolute, lift.absolute_low, lift.absolute_high];
  if (!known(value)) return DASH;
  const shown = (x) => (relative ? `${signedOne.format(x * 100)} %` : `${signedTwo.format(x * 100)} pt`);
  return shown(value) + (known(low) && known(high) ? ` (${shown(low)} to ${shown(high)})` : "");
}

/** The verdict as it reads for `rate`: better, worse … (the API's words for a higher rate). */
function judged(verdict, rate) {
  return lowerIsBetter(rate) ? FLIPPED[verdict] || verdict : verdict;
}

/**
 * The variant to act on, on the rate read as it should be: the control when every other is
 * worse, the one variant better when every other is worse, else null (as report/variants.py
 * `Comparison.winner`, which reads every rate as more is better).
 */
function winnerOf(data) {
  if (!lowerIsBetter(data.metric)) return data.winner;
  const others = data.variants.filter((v) => v.lift);
  const verdicts = others.map((v) => judged(v.lift.verdict, data.metric));
  const better = others.filter((v, i) => verdicts[i] === "better");
  const worse = verdicts.filter((v) => v === "worse").length;
  if (!better.length && worse === others.length) return data.control;
  if (better.length === 1 && worse === others.length - 1) return better[0].variant;
  return null;
}

export class VariantsCard {
  /** `catalogue`: GET /v1/catalogue, for the metrics' names. */
  constructor({ campaign, catalogue }) {
    this.campaign = campaign;
    this.metrics = catalogue.metrics || {};
    // The tabs of a channel with rates, each with its rates, the default first.
    this.rates = variantRates();
    this.card = $("#variants");
    this.select = $("#variants-metric");
    this.view = null; // {tab, execution, period, engagement} of the reports shown
    this.viewKey = null;
    this.tab = null; // the tab whose rates the chooser offers
    this.answer = null;
    this.asked = 0;
    this.lastAsked = 0;
    this.timer = 0;
    this.stopped = false;
    this.select.addEventListener("change", () => {
      localStorage.setItem(STORE_KEY + this.tab, this.select.value);
      this.load();
    });
    this.build();
  }

  build() {
    this.rows = h("tbody", { id: "variants-rows" });
    this.heads = ["Variant", "", "", "", "Lift against the control (95 % interval)", "Verdict"].map((name, i) =>
      h("th", { scope: "col", class: i > 0 && i < 5 ? "num" : null }, name));
    this.caption = h("caption", { class: "sr-only" });
    const box = h("div", { class: "table-wrap variants-wrap" },
      h("table", { class: "table variants-table", id: "variants-table" },
        this.caption, h("thead", {}, h("tr", {}, this.heads)), this.rows));
    const { frame, cue, watcher } = scrollable(box, { label: "Variants table", nouns: { x: "columns", y: "variants" } });
    $("#variants-note").after(frame, cue);
    this.watcher = watcher;
  }

  /**
   * A report of `view` ({tab, execution, period, engagement}) came down the live stream: a new
   * view is asked for at once, the same one again at most every MIN_INTERVAL_MS.
   */
  update(view) {
    if (this.stopped) return;
    if (!this.rates[view.tab]) {
      // A tab without rates (the campaign, in-app, web): nothing to ask.
      this.clear();
      return;
    }
    const key = `${view.tab}|${view.execution}|${periodKey(view.period)}|${view.engagement || "all"}`;
    if (key !== this.viewKey) {
      this.view = view;
      this.viewKey = key;
      this.offerRates(view.tab);
      this.load();
      return;
    }
    if (this.timer) return;
    const wait = this.lastAsked + MIN_INTERVAL_MS - Date.now();
    if (wait <= 0) this.load();
    else this.timer = setTimeout(() => this.load(), wait);
  }

  /** The page is leaving its view (another tab, execution or period): nothing of it stays. */
  clear() {
    clearTimeout(this.timer);
    this.timer = 0;
    this.view = null;
    this.viewKey = null;
    this.answer = null;
    this.asked += 1; // an answer still on its way is for the view left
    this.hide();
    delete this.card.dataset.view;
  }

  /** The campaign does not exist: nothing to show. */
  stop() {
    this.stopped = true;
    this.clear();
  }

  /** The times again, in the zone the user just chose. */
  retime() {
    if (this.answer && !this.card.hidden) this.renderNote(this.answer);
  }

  offerRates(tab) {
    const rates = this.rates[tab];
    if (!rates || tab === this.tab) return;
    this.tab = tab;
    clear(this.select).append(...rates.map((r) => h("option", { value: r }, this.label(r))));
    this.select.value = storedRate(tab, rates);
  }

  label(name) {
    return (this.metrics[name] || { label: name }).label;
  }

  async load() {
    clearTimeout(this.timer);
    this.timer = 0;
    const view = this.view;
    if (!view || !this.rates[view.tab]) {
      this.hide();
      return;
    }
    const asked = ++this.asked;
    this.lastAsked = Date.now();
    const mark = `${this.viewKey}|${this.select.value}`;
    const params = {
      channel: view.tab, metric: this.select.value, execution: view.execution,
      // The period only when the page's address has one: by default the API takes the
      // campaign's whole life, whose counts only grow, as its guarantee wants.
      ...periodParams(view.period, { compare: false }),
      // The opens and clicks the tab counts: human ones only, say (engagement.js).
      ...engagementParams(view.engagement),
    };
    this.card.setAttribute("aria-busy", "true");
    try {
      const data = await api(campaignApi(this.campaign, "variants", params));
      if (asked !== this.asked) return;
      this.answer = data;
      this.render(data);
      // The view and rate answered (tests wait for this mark), whether the card shows or not.
      this.card.dataset.view = mark;
    } catch (err) {
      if (asked !== this.asked) return;
      // A channel, rate or period the server refuses (400), or no such campaign: no card.
      if (err.status === 400 || err.status === 404 || this.card.hidden) {
        this.hide();
        this.card.dataset.view = mark;
      } else $("#variants-problem").textContent = `The variants could not be updated: ${err.message}`;
    } finally {
      if (asked === this.asked) this.card.setAttribute("aria-busy", "false");
    }
  }

  hide() {
    this.card.hidden = true;
    delete this.card.dataset.rate;
  }

  render(data) {
    const variants = data.variants || [];
    if (variants.length < 2) {
      this.hide();
      return;
    }
    const rate = this.label(data.metric);
    const heads = [null, this.label(data.exposures), this.label(data.successes), rate];
    heads.forEach((text, i) => { if (text) this.heads[i].textContent = text; });
    this.caption.textContent = `Variants compared on the ${rate.toLowerCase()}, the control first`;
    clear(this.rows).append(...variants.map((v) => this.row(v, data)));
    this.renderNote(data);
    this.renderVerdict(data);
    $("#variants-problem").textContent = "";
    this.card.dataset.rate = data.metric;
    this.card.hidden = false;
    this.watcher.refresh();
  }

  row(variant, data) {
    const lift = variant.lift;
    const cell = (col, metric, value, text) =>
      h("td", { class: col === "lift" ? "num lift" : "num", dataset: { col, metric, value: rawValue(value) } }, text);
    return h("tr", { dataset: { variant: variant.variant, control: variant.control ? "true" : undefined, verdict: lift ? lift.verdict : undefined } },
      h("th", { scope: "row", class: "variant-name" }, variant.variant),
      cell("exposures", data.exposures, variant.exposures, formatCount(variant.exposures)),
      cell("successes", data.successes, variant.successes, formatCount(variant.successes)),
      cell("rate", data.metric, variant.rate, formatRate(variant.rate)),
      h("td", {
        class: "num lift",
        title: lift ? `Always-valid p-value ${lift.p_value}` : null,
        dataset: { col: "lift", value: rawValue(lift ? lift.relative : null) },
      }, liftText(lift)),
      h("td", {}, lift ? this.chip(lift.verdict, data) : h("span", {
        class: "verdict verdict-control", title: "The variant the others are compared with",
      }, "control")));
  }

  chip(verdict, data) {
    const shown = verdict in VERDICTS ? judged(verdict, data.metric) : "too_early";
    return h("span", { class: `verdict verdict-${shown}`, title: this.verdictHelp(shown, verdict, data) }, VERDICTS[shown]);
  }

  /** What a verdict means, in plain words, for the chip's title. */
  verdictHelp(shown, verdict, data) {
    const rate = this.label(data.metric).toLowerCase();
    const direction = verdict === "better" || verdict === "leading" ? "higher" : "lower";
    switch (shown) {
      case "better":
        return `Its ${rate} is clearly ${direction} than the control's. You can act on it: this holds however often the page is looked at.`;
      case "worse":
        return `Its ${rate} is clearly ${direction} than the control's, which is worse. You can act on it: this holds however often the page is looked at.`;
      case "leading":
        return `Its ${rate} is ${direction} than the control's so far, but not clearly: the lead may still vanish. Keep sending.`;
      case "trailing":
        return `Its ${rate} is ${direction} than the control's so far, but not clearly: it may still catch up. Keep sending.`;
      case "even":
        return `Its ${rate} is the same as the control's so far. Keep sending.`;
      default:
        return `Too few messages to judge yet: ${this.needs(data)}. Wait.`;
    }
  }

  /** "each variant needs at least 1,000 delivered, with 30 unique opens and 30 without" */
  needs(data) {
    const exposures = this.label(data.exposures).toLowerCase();
    const successes = this.label(data.successes).toLowerCase();
    return `each variant needs at least ${formatCount(data.min_exposures)} ${exposures}, with ` +
      `${formatCount(data.min_successes)} ${successes} and ${formatCount(data.min_failures)} without`;
  }

  renderNote(data) {
    const period = data.period === "life" ? `over the campaign's whole life (since ${formatMoment(data.from)})`
      : data.period === "custom" ? `from ${formatRange(data.from, data.to)}`
        : periodPhrase({ preset: data.period });
    $("#variants-note").textContent =
      `The ${this.label(data.metric).toLowerCase()} (${this.label(data.successes).toLowerCase()} over ` +
      `${this.label(data.exposures).toLowerCase()}) of each variant against the control, ${data.control}, ${period}` +
      `${data.execution ? `, execution “${data.execution}”` : ""}` +
      `${engagementPhrase(data.engagement) ? `, counting ${engagementPhrase(data.engagement)}` : ""}. A verdict holds however often you look.`;
  }

  renderVerdict(data) {
    const line = clear($("#variants-verdict"));
    const winner = winnerOf(data);
    const rate = this.label(data.metric).toLowerCase();
    const good = lowerIsBetter(data.metric) ? "lower" : "higher";
    const bad = good === "higher" ? "lower" : "higher";
    line.dataset.winner = winner === null ? "" : winner;
    if (winner !== null && winner !== undefined) {
      line.append("Winner: ", h("strong", { class: "variants-winner" }, winner), winner === data.control
        ? `, the control. Every other variant has a clearly ${bad} ${rate}.`
        : `. Its ${rate} is clearly ${good} than the control's${data.variants.length > 2 ? ", and every other variant does clearly worse" : ""}.`);
    } else if (data.variants.some((v) => v.lift && v.lift.verdict === "too_early")) {
      line.append(`Too early: ${this.needs(data)}.`);
    } else {
      line.append("No winner yet: no variant is clearly ahead of all the others. Keep sending.");
    }
  }
}
