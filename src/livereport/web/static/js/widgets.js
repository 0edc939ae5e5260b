// A widget card: title, help (i), CSV download, the modify controls, and its current view
// (KPI tiles, a table or a chart). The card's root carries data-widget="<widget id>". A view
// taller or wider than the card scrolls in the card's body, with a cue (scrollcue.js).

import { campaignApi } from "./api.js";
import { visualisationName } from "./catalogue.js";
import { clear, h, uniqueId } from "./dom.js";
import { ChartView, emptyText } from "./charts.js";
import { formatValue, rawValue } from "./format.js";
import { changeNote } from "./period.js";
import { scrollable } from "./scrollcue.js";
import { StatisticsView, TableView } from "./tables.js";

class TilesView {
  constructor(widget, ctx) {
    this.ctx = ctx;
    this.el = h("div", { class: "tiles" });
    this.update(widget);
  }

  update(widget) {
    clear(this.el).append(...widget.metrics.map((m) => {
      const metric = this.ctx.metrics[m] || { label: m, format: "count", help: "" };
      const value = widget.data.metrics[m];
      return h("div", { class: "tile", title: metric.help },
        h("span", { class: "tile-label" }, metric.label),
        h("span", { class: "tile-value", dataset: { metric: m, value: rawValue(value) } }, formatValue(value, metric.format)),
        changeNote(widget, m, metric));
    }));
  }

  destroy() {}
}

function makeView(widget, vis, ctx) {
  if (vis === "tiles") return new TilesView(widget, ctx);
  if (vis === "table" && widget.kind === "statistics") return new StatisticsView(widget, ctx);
  if (vis === "table") return new TableView(widget, ctx);
  return new ChartView(widget, vis, ctx);
}

function hasRows(widget) {
  return !["breakdown", "reasons"].includes(widget.kind) || widget.data.rows.length > 0;
}

export class WidgetCard {
  /**
   * @param widget  the widget of the report JSON (id, title, help, kind, data …)
   * @param vis     the visualisation to show
   * @param ctx     {metrics, dimensions, campaign, tab, execution(), periodParams(), engagementParams(),
   *                periodPhrase(), zoneLabel()}
   * @param actions {help, remove, move, resize, visualise}: called with the card
   */
  constructor(widget, vis, ctx, actions) {
    this.widget = widget;
    this.vis = widget.visualisations.includes(vis) ? vis : widget.visualisation;
    this.ctx = ctx;
    this.view = null;
    const titleId = uniqueId("widget-title");
    this.titleId = titleId;
    this.csv = h("a", { class: "icon-btn csv", download: "", "aria-label": `Download ${widget.title} as CSV`, title: "Download as CSV" }, "CSV");
    this.select = h("select", { class: "vis-select", "aria-label": `Visualisation of ${widget.title}` },
      widget.visualisations.map((v) => h("option", { value: v }, visualisationName(v))));
    this.select.value = this.vis;
    this.select.addEventListener("change", () => actions.visualise(this, this.select.value));
    const help = h("button", {
      type: "button", class: "icon-btn help", "aria-label": `About ${widget.title}`, title: "About this widget",
      "aria-haspopup": "dialog", onclick: () => actions.help(this),
    }, "i");
    const tool = (label, text, onclick) => h("button", { type: "button", class: "icon-btn", "aria-label": `${label} ${widget.title}`, title: label, onclick }, text);
    this.modifyTools = h("div", { class: "modify-tools" },
      h("span", { class: "tool-group", role: "group", "aria-label": "Move" },
        tool("Move left", "←", () => actions.move(this, -1, 0)),
        tool("Move up", "↑", () => actions.move(this, 0, -1)),
        tool("Move down", "↓", () => actions.move(this, 0, 1)),
        tool("Move right", "→", () => actions.move(this, 1, 0))),
      h("span", { class: "tool-group", role: "group", "aria-label": "Size" },
        tool("Narrower", "W−", () => actions.resize(this, -1, 0)),
        tool("Wider", "W+", () => actions.resize(this, 1, 0)),
        tool("Shorter", "H−", () => actions.resize(this, 0, -1)),
        tool("Taller", "H+", () => actions.resize(this, 0, 1))),
      this.select,
      h("button", { type: "button", class: "btn btn-small btn-danger", "aria-describedby": titleId, onclick: () => actions.remove(this) }, "Remove"));
    this.body = h("div", { class: "widget-body" });
    const { frame, cue, watcher } = scrollable(this.body, { label: widget.title });
    frame.classList.add("body-frame");
    this.bodyCue = watcher;
    this.emptyNote = h("p", { class: "empty", hidden: true });
    this.el = h("section", {
      class: "widget", dataset: { widget: widget.id, kind: widget.kind, visualisation: this.vis },
      "aria-labelledby": titleId,
    },
    h("header", { class: "widget-head" },
      h("h2", { class: "widget-title", id: titleId }, widget.title),
      h("div", { class: "widget-tools" }, help, this.csv)),
    this.modifyTools,
    frame,
    cue);
    this.update(widget);
  }

  update(widget) {
    this.widget = widget;
    this.csv.href = campaignApi(this.ctx.campaign, "export.csv", {
      tab: this.ctx.tab, widget: widget.id, execution: this.ctx.execution(), ...this.ctx.periodParams(),
      ...this.ctx.engagementParams(),
    });
    const empty = !hasRows(widget) && this.vis === "table";
    if (empty) {
      // A table of nothing: say so rather than show an empty grid of headers.
      this.dropView();
      this.emptyNote.textContent = emptyText(widget, this.ctx);
      this.emptyNote.hidden = false;
      clear(this.body).append(this.emptyNote);
      this.bodyCue.refresh();
      return;
    }
    if (!this.view) {
      this.view = makeView(widget, this.vis, this.ctx);
      clear(this.body).append(this.view.el);
      this.bodyCue.refresh();
    } else {
      this.view.update(widget);
    }
  }

  /**
   * The pixels this card lacks to show its table whole: a reasons table lists every reason and
   * must not be cut, not even behind a scroll cue. 0 when it fits, or for other cards.
   */
  shortfall() {
    const wrap = this.widget.kind === "reasons" ? this.body.querySelector(".table-wrap") : null;
    if (!wrap) return 0;
    return Math.max(0, this.body.scrollHeight - this.body.clientHeight,
      wrap.scrollHeight - wrap.clientHeight);
  }

  setVisualisation(vis) {
    if (!this.widget.visualisations.includes(vis)) return;
    this.vis = vis;
    this.select.value = vis;
    this.el.dataset.visualisation = vis;
    this.dropView();
    this.update(this.widget);
  }

  dropView() {
    if (this.view) {
      this.view.destroy();
      this.view = null;
    }
  }

  destroy() {
    this.dropView();
    this.bodyCue.stop();
  }
}
