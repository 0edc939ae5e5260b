// The board of a tab: widget cards placed on a 12-column GridStack grid from the user's layout,
// and Modify mode (move, resize, remove, add back, switch visualisation, Save, Cancel, Reset).
// On a narrow screen the cards stack in one column in the desktop's reading order (row by row,
// left to right: each item's CSS order), each as tall as its content; the grid keeps the
// 12-column layout, which Modify changes there with the arrow buttons only. On the grid, a card
// whose table must be seen whole grows to fit it, and the cards of its row with it (fit()).

import { api } from "./api.js";
import { h } from "./dom.js";
import { resizeCharts } from "./charts.js";
import { WidgetCard } from "./widgets.js";

const GridStack = window.GridStack;
/** Where app.css stacks the cards in one column. */
export const NARROW = window.matchMedia("screen and (max-width: 760px)");

function byPosition(a, b) {
  return a.y - b.y || a.x - b.x;
}

export class Board {
  /**
   * @param el   the grid element
   * @param ctx  shared context for the cards (catalogue, campaign, tab …)
   * @param hooks {help(card), changed()}: the page's reactions
   */
  constructor(el, ctx, hooks) {
    this.el = el;
    this.ctx = ctx;
    this.hooks = hooks;
    this.cards = new Map();
    this.layout = null; // as saved on the server: {widgets, removed, limits, default}
    this.widgets = new Map(); // id → widget JSON of the latest report
    this.modifying = false;
    this.grid = GridStack.init({
      column: 12, cellHeight: 80, margin: 6, staticGrid: true, animate: false,
      alwaysShowResizeHandle: true, resizable: { handles: "se" },
      draggable: { handle: ".widget-head" },
    }, el);
    this.grid.on("resizestop", () => resizeCharts());
    this.grid.on("change", () => this.reorder());
    NARROW.addEventListener("change", () => {
      if (this.modifying) this.grid.setStatic(NARROW.matches);
      else this.fit();
    });
    // A narrower card may wrap its table onto more lines, or put it below its chart.
    let resizing = null;
    window.addEventListener("resize", () => {
      clearTimeout(resizing);
      resizing = setTimeout(() => this.fit(), 150);
    });
  }

  get limits() {
    return (this.layout && this.layout.limits) || { min_w: 2, min_h: 2, max_h: 12 };
  }

  /** Lay the cards out anew: after loading a layout, Cancel, Reset or Save. */
  show(layout, report) {
    this.layout = layout;
    this.widgets = new Map(report.widgets.map((w) => [w.id, w]));
    this.clear();
    this.grid.batchUpdate();
    for (const p of [...layout.widgets].sort(byPosition)) {
      const widget = this.widgets.get(p.id);
      if (widget) this.place(widget, p, p.visualisation);
    }
    this.grid.batchUpdate(false);
    this.fit();
    this.reorder();
    this.hooks.changed();
  }

  /**
   * Cards that lack room to show their table whole (WidgetCard.shortfall) grow by as many rows
   * as they need, up to the tallest allowed; so do the cards whose bottom is on the same row, so
   * that the row stays even and no hole opens beside the taller card. Cards only grow: a card
   * once fitted keeps its size until the layout is shown again. Not in one column, where every
   * card is as tall as its content, nor in Modify mode, where the user sets the sizes.
   */
  fit() {
    if (this.modifying || NARROW.matches) return;
    const cell = this.grid.getCellHeight(true);
    if (!cell) return;
    const maxH = this.limits.max_h;
    const nodes = [...this.cards.values()].map((c) => c.item.gridstackNode).filter(Boolean);
    let grown = false;
    // A few rounds: a card that grew may lose its scroll cue, or need a row more for it.
    for (let round = 0; round < 4; round += 1) {
      const bands = new Map(); // the row a band ends on → rows it must grow by
      for (const card of this.cards.values()) {
        const node = card.item.gridstackNode;
        const short = node ? card.shortfall() : 0;
        if (short < 1) continue;
        const rows = Math.min(Math.ceil(short / cell), maxH - node.h);
        const bottom = node.y + node.h;
        if (rows > 0) bands.set(bottom, Math.max(rows, bands.get(bottom) || 0));
      }
      if (!bands.size) break;
      // Which cards make each band is read before any grows and pushes the ones below down.
      const growing = [...bands].map(([bottom, rows]) => [
        nodes.filter((n) => n.y + n.h === bottom), rows,
      ]);
      for (const [band, rows] of growing) {
        for (const n of band) this.grid.update(n.el, { h: Math.min(maxH, n.h + rows) });
      }
      grown = true;
    }
    if (grown) this.reorder();
  }

  /** The cards' order in one column (and on paper): the grid's rows top down, left to right. */
  reorder() {
    const nodes = [...this.cards.values()].map((card) => card.item.gridstackNode).filter(Boolean);
    nodes.sort(byPosition).forEach((node, i) => { node.el.style.order = String(i); });
  }

  place(widget, p, vis) {
    const card = new WidgetCard(widget, vis, this.ctx, {
      help: (c) => this.hooks.help(c),
      remove: (c) => this.remove(c.widget.id),
      move: (c, dx, dy) => this.nudge(c, dx, dy, 0, 0),
      resize: (c, dw, dh) => this.nudge(c, 0, 0, dw, dh),
      visualise: (c, v) => c.setVisualisation(v),
    });
    const { min_w: minW, min_h: minH, max_h: maxH } = this.limits;
    const item = h("div", { class: "grid-stack-item" }, h("div", { class: "grid-stack-item-content" }, card.el));
    this.el.append(item);
    const options = { id: widget.id, w: p.w, h: p.h, minW, minH, maxH };
    if (p.x !== undefined) Object.assign(options, { x: p.x, y: p.y });
    else options.autoPosition = true;
    this.grid.makeWidget(item, options);
    card.item = item;
    this.cards.set(widget.id, card);
    return card;
  }

  clear() {
    for (const card of this.cards.values()) card.destroy();
    this.cards.clear();
    this.grid.removeAll(true);
  }

  /** New numbers from the live stream: every card updates in place. */
  update(report) {
    this.widgets = new Map(report.widgets.map((w) => [w.id, w]));
    for (const [id, card] of this.cards) {
      const widget = this.widgets.get(id);
      if (widget) card.update(widget);
    }
    this.fit();
  }

  removedIds() {
    const tab = this.ctx.tabWidgets();
    return tab.filter((id) => !this.cards.has(id));
  }

  enterModify() {
    this.modifying = true;
    // Dragging needs the grid's own geometry: not in the single column.
    this.grid.setStatic(NARROW.matches);
  }

  leaveModify() {
    this.modifying = false;
    this.grid.setStatic(true);
  }

  remove(id) {
    const card = this.cards.get(id);
    if (!card) return;
    card.destroy();
    this.grid.removeWidget(card.item, true);
    this.cards.delete(id);
    this.hooks.changed({ removed: id });
  }

  add(id) {
    const widget = this.widgets.get(id);
    if (!widget || this.cards.has(id)) return null;
    const [w, hh] = [widget.size.w, widget.size.h];
    const card = this.place(widget, { w, h: hh }, widget.visualisation);
    this.reorder();
    this.hooks.changed({ added: id });
    return card;
  }

  nudge(card, dx, dy, dw, dh) {
    const node = card.item.gridstackNode;
    const { min_w: minW, min_h: minH, max_h: maxH } = this.limits;
    const w = Math.min(12, Math.max(minW, node.w + dw));
    const hh = Math.min(maxH, Math.max(minH, node.h + dh));
    const x = Math.min(12 - w, Math.max(0, node.x + dx));
    const y = Math.max(0, node.y + dy * (dy < 0 ? 1 : node.h));
    this.grid.update(card.item, { x, y, w, h: hh });
    this.reorder();
    resizeCharts();
  }

  /** What Save sends: every card's place and visualisation, on the 12-column grid. */
  current() {
    return [...this.cards.values()].map((card) => {
      const n = card.item.gridstackNode;
      return { id: card.widget.id, x: n.x, y: n.y, w: n.w, h: n.h, visualisation: card.vis };
    }).sort(byPosition);
  }

  async save() {
    const saved = await api(`/v1/layouts/${this.ctx.tab}`, { method: "PUT", body: { widgets: this.current() } });
    this.layout = saved;
    return saved;
  }

  async reset() {
    const layout = await api(`/v1/layouts/${this.ctx.tab}`, { method: "DELETE" });
    this.layout = layout;
    return layout;
  }

  destroy() {
    this.clear();
    this.grid.destroy(false);
  }
}
