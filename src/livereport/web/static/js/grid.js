// The board of a tab: widget cards placed on a 12-column GridStack grid from the user's layout,
// and Modify mode (move, resize, remove, add back, switch visualisation, Save, Cancel, Reset).

import { api } from "./api.js";
import { h } from "./dom.js";
import { resizeCharts } from "./charts.js";
import { WidgetCard } from "./widgets.js";

const GridStack = window.GridStack;

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
      columnOpts: { breakpoints: [{ w: 760, c: 1 }] },
    }, el);
    this.grid.on("resizestop", () => resizeCharts());
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
    this.hooks.changed();
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
  }

  removedIds() {
    const tab = this.ctx.tabWidgets();
    return tab.filter((id) => !this.cards.has(id));
  }

  enterModify() {
    this.modifying = true;
    this.grid.setStatic(false);
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
