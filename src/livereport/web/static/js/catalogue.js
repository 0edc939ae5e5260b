// The catalogue (GET /v1/catalogue, declared in report/catalogue.py): the metrics with their
// labels, formats and colours, each channel's metrics, the tabs and their widgets, the names of
// the visualisations, the preset periods, the engagement choices, the variant rates, the
// overview's numbers. The
// dashboard keeps no copy of any of it: a page loads the catalogue once (loadCatalogue) before
// it draws, and the lookups below read what the server said.

import { api } from "./api.js";

let loading = null;
let loaded = null;

/** The catalogue, asked of the server once per page; an ask that failed may be made again. */
export function loadCatalogue() {
  if (!loading) {
    loading = api("/v1/catalogue").then((catalogue) => {
      loaded = catalogue;
      return catalogue;
    });
    loading.catch(() => {
      loading = null;
    });
  }
  return loading;
}

/** The catalogue loaded: a lookup before loadCatalogue resolved is a bug of the page. */
export function catalogue() {
  if (!loaded) throw new Error("catalogue.js: the catalogue is not loaded yet");
  return loaded;
}

/** A metric's label, format, help …; one the catalogue does not know reads as a count. */
export function metricOf(name) {
  return catalogue().metrics[name] || { label: name, format: "count", help: "" };
}

/** A metric's colour in charts, or null when it has none of its own. */
export function metricColour(name) {
  const metric = catalogue().metrics[name];
  return (metric && metric.colour) || null;
}

/** Whether less is better for a rate (bounces, complaints …). */
export function lowerIsBetter(name) {
  const metric = catalogue().metrics[name];
  return Boolean(metric && metric.lower_is_better);
}

/** The colour of a breakdown key known beforehand (a bounce category), or null. */
export function keyColour(dimension, key) {
  const found = catalogue().dimensions[dimension];
  return (found && found.colours && found.colours[key]) || null;
}

/** A channel (or the campaign level) by the name of its report tab; its id when unknown. */
export function channelName(id) {
  const tab = catalogue().tabs.find((t) => t.id === id);
  return tab ? tab.title : id;
}

/** A visualisation's name in a widget's chooser. */
export function visualisationName(vis) {
  return catalogue().visualisations[vis] || vis;
}

/** The preset periods in order, each {id, label, phrase, seconds}. */
export function presets() {
  return catalogue().periods;
}

/** The preset a report covers when the address names none. */
export function defaultPreset() {
  return catalogue().default_period;
}

/** A series bucket's length in seconds, or undefined for one the catalogue does not know. */
export function bucketSeconds(bucket) {
  return catalogue().bucket_seconds[bucket];
}

/** {values, default, channels}: which opens and clicks a report may count, and the channels
 * whose opens or clicks are split into people's and machines'. */
export function engagement() {
  return catalogue().engagement;
}

/** Each channel with variants to compare → its rates, the default first. */
export function variantRates() {
  return catalogue().variant_rates;
}

/** The numbers of each campaign in the campaign overview, in order. */
export function overviewMetrics() {
  return catalogue().overview.metrics;
}
