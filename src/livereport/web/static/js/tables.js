// Tables of a widget: sortable, numbers right-aligned with separators, rates as percentages,
// a total row; every number carries data-metric and data-value. A statistics widget lists its
// metrics as rows by execution, the counts and then the rates. A table wider or taller than
// its box scrolls with a cue (scrollcue.js).

import { channelName } from "./catalogue.js";
import { clear, h } from "./dom.js";
import { formatTime, formatValue, rawValue } from "./format.js";
import { scrollable } from "./scrollcue.js";

function column(name, ctx) {
  const metric = ctx.metrics[name] || { label: name, format: "count" };
  return { name, label: metric.label, format: metric.format };
}

/** The rows and columns a widget shows as a table, whatever its kind. */
export function tableModel(widget, ctx) {
  const data = widget.data;
  const columns = widget.metrics.map((name) => column(name, ctx));
  switch (widget.kind) {
    case "kpi":
      return {
        keyLabel: "Metric", columns: [{ name: "value", label: "Value", format: "count" }],
        rows: widget.metrics.map((name) => {
          const c = column(name, ctx);
          return { key: null, label: c.label, cells: [{ metric: name, value: data.metrics[name], format: c.format }] };
        }),
        total: null, sortable: false,
      };
    case "series":
      return {
        keyLabel: `Time (${ctx.zoneLabel()})`, columns, keyIsTime: true,
        rows: data.t.map((t, i) => ({
          key: t, label: formatTime(t),
          cells: columns.map((c) => ({ metric: c.name, value: data.series[c.name][i], format: c.format })),
        })).reverse(),
        total: null, sortable: true,
      };
    default: {
      const share = widget.kind === "reasons";
      const keyLabel = widget.kind === "channels" ? "Channel"
        : widget.kind === "statistics" ? "Execution"
          : (ctx.dimensions[data.by] || { label: data.by }).label;
      const all = share ? [...columns, { name: "share", label: "Share", format: "rate" }] : columns;
      const cellsOf = (values, shareValue) => all.map((c) => (
        c.name === "share" ? { metric: "share", value: shareValue, format: "rate" }
          : { metric: c.name, value: values[c.name], format: c.format, absent: !(c.name in values) }
      ));
      const total = data.total || {};
      return {
        keyLabel, columns: all,
        rows: data.rows.map((r) => ({
          key: r.key,
          label: widget.kind === "channels" ? channelName(r.key) : (r.key === "" ? (widget.kind === "statistics" ? "(no execution)" : "(none)") : r.key),
          cells: cellsOf(r.metrics, r.share),
        })),
        total: { label: "Total", cells: cellsOf(total, data.rows.length ? 1 : null) },
        sortable: true,
      };
    }
  }
}

/**
 * A statistics widget's metrics of one format as rows (`rates`: the rates, or else the counts),
 * with a column per execution and one for the total; each cell says its execution (data-key)
 * or that it is the total (data-total).
 */
export function statisticsModel(widget, ctx, rates) {
  const data = widget.data;
  const total = data.total || {};
  const names = widget.metrics.filter((name) => (column(name, ctx).format === "rate") === rates);
  const cell = (values, name, format, where) => (
    { metric: name, value: values[name], format, absent: !(name in values), ...where });
  return {
    keyLabel: rates ? "Rate" : "Count",
    columns: [
      ...data.rows.map((r) => ({ name: r.key, label: r.key === "" ? "(no execution)" : r.key })),
      { name: "", label: "Total", total: true },
    ],
    rows: names.map((name) => {
      const c = column(name, ctx);
      const help = (ctx.metrics[name] || {}).help || null;
      return {
        key: undefined, label: c.label, help,
        cells: [
          ...data.rows.map((r) => cell(r.metrics, name, c.format, { key: r.key })),
          cell(total, name, c.format, { total: true }),
        ],
      };
    }),
    total: null, sortable: false,
  };
}

function valueCell(cell) {
  const where = { key: cell.key, total: cell.total ? "true" : undefined };
  if (cell.absent) return h("td", { class: cell.total ? "num na total" : "num na", title: "Does not apply", dataset: where }, "—");
  return h("td", {
    class: cell.total ? "num total" : "num",
    dataset: { metric: cell.metric, value: rawValue(cell.value), ...where },
  }, formatValue(cell.value, cell.format));
}

function swatch(colour) {
  const el = h("span", { class: "swatch", "aria-hidden": "true" });
  el.style.background = colour;
  return el;
}

/** A sortable table of one widget; keeps its sort order across live updates. */
export class TableView {
  constructor(widget, ctx, { caption, swatch, model } = {}) {
    this.ctx = ctx;
    this.caption = caption || widget.title;
    this.swatch = swatch || null; // key → colour, to match the chart beside the table
    this.modelOf = model || tableModel;
    this.sort = null; // {index, dir}; index -1 is the key column
    this.wrap = h("div", { class: "table-wrap" });
    const { frame, cue, watcher } = scrollable(this.wrap, {
      label: `${this.caption} table`, nouns: { x: "columns", y: "rows" },
    });
    this.cue = watcher;
    this.el = h("div", { class: "table-view" }, frame, cue);
    this.update(widget);
  }

  update(widget) {
    this.model = this.modelOf(widget, this.ctx);
    this.render();
  }

  sortedRows() {
    const rows = [...this.model.rows];
    if (!this.sort) return rows;
    const { index, dir } = this.sort;
    const sign = dir === "ascending" ? 1 : -1;
    const key = (r) => (index < 0 ? r.key : r.cells[index].value ?? -Infinity);
    rows.sort((a, b) => {
      const x = key(a); const y = key(b);
      if (typeof x === "string" || typeof y === "string") return sign * String(x).localeCompare(String(y));
      return sign * (x - y);
    });
    return rows;
  }

  toggleSort(index) {
    const numeric = index >= 0;
    if (this.sort && this.sort.index === index) {
      this.sort = { index, dir: this.sort.dir === "ascending" ? "descending" : "ascending" };
    } else {
      this.sort = { index, dir: numeric ? "descending" : "ascending" };
    }
    this.render();
    const button = this.wrap.querySelector(`th[data-col="${index}"] button`);
    if (button) button.focus();
  }

  header(label, index, numeric, total = false) {
    const sorted = this.sort && this.sort.index === index ? this.sort.dir : "none";
    const th = h("th", {
      scope: "col", class: [numeric ? "num" : "", total ? "total" : ""].join(" ").trim() || null,
      "aria-sort": this.model.sortable ? sorted : null, dataset: { col: index },
    });
    if (!this.model.sortable) {
      th.textContent = label;
      return th;
    }
    th.append(h("button", { type: "button", class: "sort", onclick: () => this.toggleSort(index) },
      label, h("span", { class: `sort-icon sort-${sorted}`, "aria-hidden": "true" })));
    return th;
  }

  render() {
    const m = this.model;
    const head = h("tr", {}, this.header(m.keyLabel, -1, false),
      m.columns.map((c, i) => this.header(c.label, i, true, c.total)));
    const body = this.sortedRows().map((r) => h("tr", { dataset: { key: r.key ?? undefined } },
      h("th", { scope: "row", class: "key", title: r.help || (r.label.length > 40 ? r.label : null) },
        this.swatch ? swatch(this.swatch(r.key)) : null, r.label),
      r.cells.map(valueCell)));
    const table = h("table", { class: "table data" },
      h("caption", { class: "sr-only" }, this.caption),
      h("thead", {}, head),
      h("tbody", {}, body));
    if (m.total) {
      table.append(h("tfoot", {}, h("tr", { dataset: { total: "true" } },
        h("th", { scope: "row", class: "key" }, m.total.label), m.total.cells.map(valueCell))));
    }
    clear(this.wrap).append(table);
    this.cue.refresh();
  }

  destroy() {
    this.cue.stop();
  }
}

/**
 * A statistics widget: its metrics as rows, by execution, as the reference product lists them;
 * the counts, then the rates beside them when the widget is wide enough, or below.
 */
export class StatisticsView {
  constructor(widget, ctx) {
    this.ctx = ctx;
    this.parts = [false, true].map((rates) => new TableView(widget, ctx, {
      caption: `${widget.title}: ${rates ? "rates" : "counts"}`,
      model: (w, c) => statisticsModel(w, c, rates),
    }));
    this.el = h("div", { class: "stats" }, this.parts.map((part) => part.el));
    this.hideEmpty();
  }

  update(widget) {
    for (const part of this.parts) part.update(widget);
    this.hideEmpty();
  }

  hideEmpty() {
    // Push, SMS and direct mail have no rates.
    for (const part of this.parts) part.el.hidden = part.model.rows.length === 0;
  }

  destroy() {
    for (const part of this.parts) part.destroy();
  }
}
