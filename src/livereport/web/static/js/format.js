// How numbers and times read on screen: thousands separators, rates as percentages, and
// times in the browser's zone or in UTC, as the user chose.

const TZ_KEY = "livereport.timezone";
const counts = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const percent = new Intl.NumberFormat(undefined, {
  style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1,
});
const smallPercent = new Intl.NumberFormat(undefined, {
  style: "percent", minimumFractionDigits: 2, maximumFractionDigits: 2,
});

export const DASH = "–";

export function formatCount(value) {
  return value === null || value === undefined ? DASH : counts.format(value);
}

export function formatRate(value) {
  if (value === null || value === undefined) return DASH;
  return value > 0 && value < 0.01 ? smallPercent.format(value) : percent.format(value);
}

export function formatValue(value, format) {
  return format === "rate" ? formatRate(value) : formatCount(value);
}

/** data-value: the raw number, or "" for a rate without a denominator. */
export function rawValue(value) {
  return value === null || value === undefined ? "" : String(value);
}

export function timeZoneChoice() {
  return localStorage.getItem(TZ_KEY) === "utc" ? "utc" : "browser";
}

export function setTimeZoneChoice(choice) {
  localStorage.setItem(TZ_KEY, choice === "utc" ? "utc" : "browser");
}

export function browserZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";
}

function zoneOption() {
  return timeZoneChoice() === "utc" ? { timeZone: "UTC" } : {};
}

export function zoneLabel() {
  return timeZoneChoice() === "utc" ? "UTC" : browserZone();
}

export function formatTime(iso, { seconds = false } = {}) {
  if (!iso) return DASH;
  return new Intl.DateTimeFormat(undefined, {
    hour: "2-digit", minute: "2-digit", ...(seconds ? { second: "2-digit" } : {}), ...zoneOption(),
  }).format(new Date(iso));
}

export function formatDateTime(iso) {
  if (!iso) return DASH;
  return new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
    ...zoneOption(),
  }).format(new Date(iso));
}

export function formatAgo(iso, now = Date.now()) {
  const seconds = Math.max(0, Math.round((now - new Date(iso).getTime()) / 1000));
  if (seconds < 60) return "just now";
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.round(hours / 24)} days ago`;
}
