// Charts of a widget with Chart.js: bars, donuts and lines built from the report JSON.
// Reason charts fold the long tail into "Other"; the table beside them never does.

import { clear, h } from "./dom.js";
import { formatCount, formatRate, formatValue, rawValue } from "./format.js";
import { channelName, defaultPreset, keyColour, metricColour } from "./catalogue.js";
import { bucketLabel, changeNote, periodPhrase } from "./period.js";
import { TableView } from "./tables.js";

const Chart = window.Chart;
Chart.defaults.font.family = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
Chart.defaults.font.size = 12;
Chart.defaults.color = "#52606d";
Chart.defaults.borderColor = "#e6e9ee";
Chart.defaults.animation = false;
// Drawn at twice the pixels at least, so charts stay sharp when printed or zoomed.
Chart.defaults.devicePixelRatio = Math.max(window.devicePixelRatio || 1, 2);
Chart.defaults.maintainAspectRatio = false;
Chart.defaults.plugins.legend.labels.boxWidth = 10;
Chart.defaults.plugins.legend.labels.boxHeight = 10;

// A metric's colour and a bounce category's are the catalogue's (catalogue.js).
/** The keys of a breakdown, by rank: one colour each, none repeated and none the grey of Other. */
export const PALETTE = [
  "#3b82f6", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#0ea5e9", "#ec4899", "#84cc16",
  "#92400e", "#1e3a8a",
];
export const OTHER_COLOR = "#cbd5e1";
const MAX_BARS = 10;
/** Keys drawn on their own, donut or bars alike (so a key keeps its colour); the rest is Other. */
export const FOLD_AFTER = MAX_BARS - 1;
if (PALETTE.length < FOLD_AFTER) throw new Error("charts.js: fewer colours than keys drawn");

export const charts = new Set();

function color(name, i) {
  return metricColour(name) || PALETTE[i % PALETTE.length];
}

function short(text, max = 28) {
  return text.length > max ? text.slice(0, max - 1) + "…" : text;
}

function keyLabel(widget, key) {
  if (widget.kind === "channels") return channelName(key);
  return key === "" ? "(none)" : key;
}

/** The top rows of a breakdown on one metric, the rest folded into "Other". */
export function fold(rows, metric, keep = FOLD_AFTER) {
  const sorted = [...rows].sort((a, b) => (b.metrics[metric] || 0) - (a.metrics[metric] || 0));
  const top = sorted.slice(0, keep).map((r) => ({ key: r.key, value: r.metrics[metric] || 0 }));
  const rest = sorted.slice(keep);
  if (rest.length) {
    top.push({ key: null, value: rest.reduce((sum, r) => sum + (r.metrics[metric] || 0), 0) });
  }
  return top;
}

function countMetrics(widget, ctx) {
  return widget.metrics.filter((m) => (ctx.metrics[m] || {}).format !== "rate");
}

/** {type, labels, datasets, horizontal, empty} for a widget drawn as `vis`. */
export function chartData(widget, vis, ctx) {
  const data = widget.data;
  const label = (m) => (ctx.metrics[m] || { label: m }).label;
  const type = vis === "donut" ? "doughnut" : vis === "line" ? "line" : "bar";
  if (widget.kind === "kpi") {
    const values = widget.metrics.map((m) => data.metrics[m] || 0);
    return {
      type, labels: widget.metrics.map(label), horizontal: false,
      datasets: [{ label: widget.title, data: values, backgroundColor: widget.metrics.map(color) }],
      empty: values.every((v) => !v),
    };
  }
  if (widget.kind === "series") {
    const names = countMetrics(widget, ctx);
    const datasets = names.map((m, i) => ({
      label: label(m), data: data.series[m], borderColor: color(m, i), backgroundColor: color(m, i),
      borderWidth: 2, pointRadius: 0, pointHoverRadius: 3, tension: 0.25, fill: false,
    }));
    return {
      type, labels: data.t.map((t) => bucketLabel(t, data.bucket)), datasets, horizontal: false, series: true,
      empty: datasets.every((d) => d.data.every((v) => !v)),
    };
  }
  const rows = data.rows || [];
  if (type === "doughnut" || widget.kind === "reasons") {
    const metric = data.sort || widget.metrics[0];
    const parts = fold(rows, metric, FOLD_AFTER);
    return {
      type, horizontal: type === "bar", keys: parts.map((p) => p.key), split: widget.kind === "reasons",
      labels: parts.map((p) => (p.key === null ? "Other" : keyLabel(widget, p.key))),
      datasets: [{
        label: label(metric), data: parts.map((p) => p.value),
        backgroundColor: parts.map((p, i) => (p.key === null ? OTHER_COLOR : keyColour(data.by, p.key) || PALETTE[i])),
      }],
      empty: parts.every((p) => !p.value),
    };
  }
  const names = countMetrics(widget, ctx);
  const shown = widget.kind === "channels" ? rows : rows.slice(0, MAX_BARS);
  return {
    type, horizontal: false, labels: shown.map((r) => keyLabel(widget, r.key)),
    datasets: names.map((m, i) => ({
      label: label(m), data: shown.map((r) => r.metrics[m] ?? 0), backgroundColor: color(m, i),
    })),
    empty: shown.every((r) => names.every((m) => !r.metrics[m])),
  };
}

function options(model) {
  const single = model.datasets.length === 1;
  const tooltip = {
    callbacks: {
      label: (item) => {
        const name = model.type === "doughnut" || single ? item.label : item.dataset.label;
        const value = model.type === "doughnut" ? item.parsed : (model.horizontal ? item.parsed.x : item.parsed.y);
        if (model.type !== "doughnut") return `${name}: ${formatCount(value)}`;
        const total = item.dataset.data.reduce((a, b) => a + b, 0);
        return `${name}: ${formatCount(value)} (${formatRate(total ? value / total : null)})`;
      },
    },
  };
  if (model.type === "doughnut") {
    return {
      cutout: "62%",
      // Beside a table, the table's colour marks are the legend.
      plugins: { legend: { display: !model.split, position: "right", labels: { generateLabels: legendLabels } }, tooltip },
    };
  }
  const valueAxis = { beginAtZero: true, ticks: { precision: 0, callback: (v) => formatCount(v) } };
  const categoryAxis = {
    grid: { display: false },
    ticks: model.series ? { maxTicksLimit: 9, maxRotation: 0, autoSkip: true } : { callback(v) { return short(this.getLabelForValue(v)); } },
  };
  return {
    indexAxis: model.horizontal ? "y" : "x",
    interaction: model.series ? { mode: "index", intersect: false } : { mode: "nearest", intersect: true },
    scales: model.horizontal ? { x: valueAxis, y: categoryAxis } : { x: categoryAxis, y: valueAxis },
    plugins: { legend: { display: !single, position: "top", align: "end" }, tooltip },
  };
}

function legendLabels(chart) {
  const base = Chart.overrides.doughnut.plugins.legend.labels.generateLabels(chart);
  return base.map((item) => ({ ...item, text: short(item.text, 24) }));
}

/** A chart, with what goes beside it: reasons get their full table, KPIs their values. */
export class ChartView {
  constructor(widget, vis, ctx) {
    this.vis = vis;
    this.ctx = ctx;
    this.chart = null;
    this.canvasBox = h("div", { class: "chart-box" });
    this.emptyBox = h("p", { class: "empty", hidden: true });
    this.legend = widget.kind === "kpi" ? h("ul", { class: "value-legend" }) : null;
    this.colours = new Map();
    this.table = widget.kind === "reasons"
      ? new TableView(widget, ctx, { swatch: (key) => this.colours.get(key) || OTHER_COLOR })
      : null;
    const chartPart = h("div", { class: "chart-part" }, this.canvasBox, this.emptyBox, this.legend);
    this.el = h("div", { class: this.table ? "split" : "chart-only" }, chartPart, this.table && this.table.el);
    this.update(widget);
  }

  update(widget) {
    const model = chartData(widget, this.vis, this.ctx);
    if (this.table) {
      this.colours = new Map((model.keys || []).map((key, i) => [key, model.datasets[0].backgroundColor[i]]));
      this.table.update(widget);
    }
    if (this.legend) this.renderLegend(widget);
    this.emptyBox.hidden = !model.empty;
    this.canvasBox.hidden = model.empty;
    this.emptyBox.textContent = model.empty ? emptyText(widget, this.ctx) : "";
    if (model.empty) {
      this.dropChart();
      return;
    }
    const title = `${widget.title}: ${this.vis === "donut" ? "donut" : this.vis === "line" ? "line" : "bar"} chart`;
    if (this.chart && this.chart.config.type === model.type) {
      this.chart.data.labels = model.labels;
      this.chart.data.datasets = model.datasets;
      this.chart.options = options(model);
      this.chart.update("none");
      return;
    }
    this.dropChart();
    const canvas = h("canvas", { role: "img", "aria-label": title });
    clear(this.canvasBox).append(canvas);
    this.chart = new Chart(canvas, { type: model.type, data: { labels: model.labels, datasets: model.datasets }, options: options(model) });
    charts.add(this.chart);
  }

  renderLegend(widget) {
    clear(this.legend).append(...widget.metrics.map((m, i) => {
      const metric = this.ctx.metrics[m] || { label: m, format: "count" };
      const value = widget.data.metrics[m];
      return h("li", {},
        h("span", { class: "swatch", dataset: { color: color(m, i) } }),
        h("span", { class: "legend-label" }, metric.label),
        h("span", { class: "legend-value", dataset: { metric: m, value: rawValue(value) } }, formatValue(value, metric.format)),
        changeNote(widget, m, metric));
    }));
    for (const swatch of this.legend.querySelectorAll(".swatch")) swatch.style.background = swatch.dataset.color;
  }

  dropChart() {
    if (this.chart) {
      charts.delete(this.chart);
      this.chart.destroy();
      this.chart = null;
    }
  }

  destroy() {
    this.dropChart();
    if (this.table) this.table.destroy();
  }
}

export function emptyText(widget, ctx) {
  const metric = ctx.metrics[(widget.data && widget.data.sort) || widget.metrics[0]];
  const what = metric ? metric.label.toLowerCase() : "events";
  const when = ctx.periodPhrase ? ctx.periodPhrase() : periodPhrase({ preset: defaultPreset() });
  if (widget.kind === "series") return `Nothing happened ${when} yet.`;
  if (widget.kind === "reasons") return `No ${what} ${when}, so no reasons to show.`;
  if (widget.kind === "kpi") return `All of these are still zero ${when}.`;
  return `No ${what} ${when} yet.`;
}

/** Charts keep their size in print: Chart.js must measure their boxes again. */
export function resizeCharts() {
  for (const chart of charts) chart.resize();
}
