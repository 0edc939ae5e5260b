// The period a report covers, as the page holds it: a preset (period=1h|24h|7d|30d|life) or a
// custom range (from=, to= as RFC 3339 with the browser's offset), and compare=previous. It lives
// in the page's address, so that a reload or a shared link shows the same view (SPEC §9); this
// module reads and writes it, names it for people, and draws a KPI's change against the previous
// period. The picker on the report page is the PeriodPicker below.

import { api } from "./api.js";
import { bucketSeconds, defaultPreset, presets } from "./catalogue.js";
import { $, h } from "./dom.js";
import { formatCount, formatTime, rawValue, timeZoneChoice } from "./format.js";

// The presets (their ids, names and the default) are the catalogue's (catalogue.js): a page reads
// its period once the catalogue is loaded.
const CUSTOM_PHRASE = "in the chosen period";
/** A previous period's volume under this makes its change say little: shown greyed. */
export const SMALL_VOLUME = 100;
export const NO_CHANGE = "—";

// --- the period in the address --------------------------------------------------------------

/** {preset, from, to, compare} from a page address's query; `to` "" means until now. */
export function readPeriod(query) {
  // An offset typed by hand as "+01:00" reaches us as " 01:00": give it its plus back.
  const time = (name) => (query.get(name) || "").trim().replace(/ (\d\d:?\d\d)$/, "+$1");
  const compare = query.get("compare") === "previous";
  const from = time("from");
  if (from) return { preset: "custom", from, to: time("to"), compare };
  return { preset: query.get("period") || defaultPreset(), from: "", to: "", compare };
}

/** The query parameters of a period for the API; the default (24h) is left out. */
export function periodParams(period, { compare = true } = {}) {
  const params = {};
  if (period.preset === "custom") {
    params.from = period.from;
    if (period.to) params.to = period.to;
  } else if (period.preset !== defaultPreset()) {
    params.period = period.preset;
  }
  if (compare && period.compare) params.compare = "previous";
  return params;
}

export function writePeriod(url, period) {
  for (const name of ["period", "from", "to", "compare"]) url.searchParams.delete(name);
  for (const [name, value] of Object.entries(periodParams(period))) url.searchParams.set(name, value);
}

/** One string per period, to tell whether a report shown is of the period asked. */
export function periodKey(period) {
  return period.preset === "custom" ? `${period.from}/${period.to}` : period.preset;
}

/** Whether the period includes now, before the server says so (`live` of its answers). */
export function guessLive(period) {
  if (period.preset !== "custom" || !period.to) return true;
  return new Date(period.to).getTime() >= Date.now();
}

// --- browser-local times for <input type="datetime-local"> -------------------------------------

const two = (n) => String(n).padStart(2, "0");

/** A Date as RFC 3339 to the minute with the browser's offset at that moment (DST included). */
export function localRfc3339(date) {
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  const abs = Math.abs(offset);
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())}` +
    `T${two(date.getHours())}:${two(date.getMinutes())}:00${sign}${two(Math.floor(abs / 60))}:${two(abs % 60)}`;
}

/** "2025-11-03T10:00" (a datetime-local value, browser time) → RFC 3339; null when malformed. */
export function fromLocalInput(value) {
  const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)/.exec(value || "");
  if (!m) return null;
  return localRfc3339(new Date(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]));
}

/** An RFC 3339 time → a datetime-local value in browser time; "" when there is none. */
export function toLocalInput(iso) {
  const date = new Date(iso || "");
  if (Number.isNaN(date.getTime())) return "";
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())}T${two(date.getHours())}:${two(date.getMinutes())}`;
}

// --- the period in words ---------------------------------------------------------------------

function moments(withYear, utc = timeZoneChoice() === "utc") {
  return new Intl.DateTimeFormat(undefined, {
    ...(withYear ? { year: "numeric" } : {}), month: "short", day: "numeric",
    hour: "2-digit", minute: "2-digit", ...(utc ? { timeZone: "UTC" } : {}),
  });
}

/** "Nov 3, 10:00 – Nov 5, 18:30" in the zone the user chose; the year when not this one. */
export function formatRange(fromIso, toIso) {
  const from = new Date(fromIso);
  const to = new Date(toIso);
  const year = new Date().getFullYear();
  const format = moments(from.getFullYear() !== year || to.getFullYear() !== year);
  return format.formatRange(from, to);
}

export function formatMoment(iso) {
  const date = new Date(iso);
  return moments(date.getFullYear() !== new Date().getFullYear()).format(date);
}

/** The period's name for the header: "Last 7 days", or the custom range. */
export function periodTitle(period) {
  const preset = presets().find((p) => p.id === period.preset);
  if (period.preset !== "custom") return preset ? preset.label : period.preset;
  return period.to ? formatRange(period.from, period.to) : `Since ${formatMoment(period.from)}`;
}

/** The period in a sentence: "No events … in the last 7 days." */
export function periodPhrase(period) {
  const preset = presets().find((p) => p.id === period.preset);
  return preset ? preset.phrase : CUSTOM_PHRASE;
}

/** A series' axis label for a bucket start: the time for short buckets, the day for long ones. */
export function bucketLabel(iso, bucket) {
  const seconds = bucketSeconds(bucket) || 300;
  if (seconds < 3600) return formatTime(iso);
  // Day buckets are UTC days (the server's): named by their UTC date, in any zone.
  const utc = seconds >= 86400 || timeZoneChoice() === "utc";
  return new Intl.DateTimeFormat(undefined, {
    month: "short", day: "numeric", ...(seconds < 86400 ? { hour: "2-digit", minute: "2-digit" } : {}),
    ...(utc ? { timeZone: "UTC" } : {}),
  }).format(new Date(iso));
}

// --- a KPI against the previous period --------------------------------------------------------

const signedCount = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0, signDisplay: "exceptZero" });
const signedOne = new Intl.NumberFormat(undefined, {
  minimumFractionDigits: 1, maximumFractionDigits: 1, signDisplay: "exceptZero",
});

/**
 * The change of one metric from the previous period: {text, delta, small, title}.
 * Counts: "+120 (+4.1 %)"; rates: "+0.4 pt". "—" when the previous value is missing or had no
 * volume. `small`: the previous period's volume (the count itself, or a rate's denominator)
 * is under SMALL_VOLUME, so the change is greyed and says why.
 */
export function describeChange(metric, current, previous, denominator) {
  const rate = metric.format === "rate";
  const volume = rate ? denominator : previous;
  if (previous === null || previous === undefined || current === null || current === undefined ||
      (!rate && previous === 0) || volume === 0) {
    return { text: NO_CHANGE, delta: null, small: false, title: "No volume in the previous period to compare with" };
  }
  const delta = current - previous;
  const text = rate
    ? `${signedOne.format(delta * 100)} pt`
    : `${signedCount.format(delta)} (${signedOne.format((delta / previous) * 100)} %)`;
  const small = volume !== undefined && volume !== null && volume < SMALL_VOLUME;
  return { text, delta, small, title: small ? `Small volume: ${formatCount(volume)} in the previous period, so this change says little` : "" };
}

/** The change line under a KPI's value, or null when the report has no previous period. */
export function changeNote(widget, name, metric) {
  const data = widget.data;
  if (!data.previous) return null;
  const ratio = metric.ratio || null;
  const previous = data.previous[name];
  const change = describeChange(metric, data.metrics[name], previous, ratio ? data.previous[ratio[1]] : undefined);
  const span = data.previous_period;
  const versus = span ? `Previous period ${formatRange(span.from, span.to)}: ${metric.format === "rate" ? rateText(previous) : formatCount(previous)}` : "";
  return h("span", {
    class: change.small ? "change change-small" : "change",
    title: [change.title, versus].filter(Boolean).join(". "),
    dataset: { changeOf: name, previous: rawValue(previous), change: rawValue(change.delta), small: change.small ? "true" : undefined },
  }, change.text, change.small ? h("span", { class: "sr-only" }, " (small volume)") : null);
}

function rateText(value) {
  return value === null || value === undefined ? NO_CHANGE : `${(value * 100).toFixed(1)} %`;
}

// --- the picker ---------------------------------------------------------------------------------

/**
 * The period controls of report.html: a preset select (with "Custom…"), the from/to form and
 * the compare toggle. `onChange(period)` is called with a period the page should show;
 * `check(period)` answers an error message for a custom period the server refuses, or null.
 */
export class PeriodPicker {
  constructor(period, { onChange, check, shown }) {
    this.period = period;
    this.onChange = onChange;
    this.check = check;
    this.shown = shown;
    this.select = $("#period");
    this.compare = $("#compare");
    this.form = $("#custom-period");
    this.from = $("#period-from");
    this.to = $("#period-to");
    this.error = $("#period-error");
    // The presets before "Custom…", the only choice the page's HTML holds.
    this.select.prepend(...presets().map((p) => h("option", { value: p.id }, p.label)));
    $("#period-zone").textContent = `Browser time (${Intl.DateTimeFormat().resolvedOptions().timeZone || "local"}); leave To empty for “until now”.`;
    this.select.addEventListener("change", () => this.picked());
    this.compare.addEventListener("change", () => this.onChange({ ...this.period, compare: this.compare.checked }));
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.apply();
    });
    $("#period-cancel").addEventListener("click", () => {
      this.set(this.period);
      this.select.focus();
    });
    this.set(period);
  }

  /** Show `period` in the controls (the page's current one). */
  set(period) {
    this.period = period;
    if (![...this.select.options].some((o) => o.value === period.preset)) {
      // An unknown preset from an address: the server's answer says what is allowed.
      this.select.value = "";
    } else {
      this.select.value = period.preset;
    }
    this.compare.checked = period.compare;
    this.error.textContent = "";
    const custom = period.preset === "custom";
    this.form.hidden = !custom;
    if (custom) {
      this.from.value = toLocalInput(period.from);
      this.to.value = toLocalInput(period.to);
    }
  }

  picked() {
    const value = this.select.value;
    this.error.textContent = "";
    if (value !== "custom") {
      this.form.hidden = true;
      this.onChange({ preset: value, from: "", to: "", compare: this.compare.checked });
      return;
    }
    // Start from what is shown: the range of the current report.
    const shown = this.shown();
    if (shown && !this.from.value) {
      this.from.value = toLocalInput(shown.from);
      this.to.value = shown.live ? "" : toLocalInput(shown.to);
    }
    this.form.hidden = false;
    this.from.focus();
  }

  async apply() {
    const from = fromLocalInput(this.from.value);
    const to = this.to.value ? fromLocalInput(this.to.value) : "";
    if (!from) return this.refuse("Give the start of the period (From).", this.from);
    if (to === null) return this.refuse("To is not a date and time; leave it empty for “until now”.", this.to);
    if (to && new Date(to) <= new Date(from)) return this.refuse("To must be after From.", this.to);
    if (new Date(from) > new Date()) return this.refuse("From is in the future.", this.from);
    const period = { preset: "custom", from, to, compare: this.compare.checked };
    const problem = await this.check(period);
    if (problem) return this.refuse(`This period cannot be shown: ${problem}`, this.from);
    this.error.textContent = "";
    this.onChange(period);
  }

  refuse(message, field) {
    this.error.textContent = message;
    field.focus();
  }
}

/** Why the server refuses a period (outside the retention, say), or null: `url` makes the
 * address of a cheap request of the page's own with the period's parameters. */
export async function periodRefusal(url, period) {
  try {
    await api(url(periodParams(period, { compare: false })), { redirect: false });
    return null;
  } catch (err) {
    return err.status === 400 ? err.message : null;
  }
}
