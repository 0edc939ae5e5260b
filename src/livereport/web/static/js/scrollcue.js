// Content that does not fit its box scrolls, and says so: the box's frame fades on each edge with
// more beyond it (data-more="up down left right" on the box), a line of text under the frame
// tells which way to scroll, and the box takes the keyboard focus so arrow keys scroll it.

import { h, uniqueId } from "./dom.js";

const ARROWS = { up: "↑", down: "↓", left: "←", right: "→" };

function hiddenSides(box) {
  const sides = [];
  if (box.scrollTop > 1) sides.push("up");
  if (box.scrollTop + box.clientHeight < box.scrollHeight - 1) sides.push("down");
  if (box.scrollLeft > 1) sides.push("left");
  if (box.scrollLeft + box.clientWidth < box.scrollWidth - 1) sides.push("right");
  return sides;
}

function cueText(sides, nouns) {
  const across = sides.includes("left") || sides.includes("right");
  const down = sides.includes("up") || sides.includes("down");
  const what = across && down && nouns.x !== nouns.y ? `${nouns.y} and ${nouns.x}` : across ? nouns.x : nouns.y;
  return `${sides.map((side) => ARROWS[side]).join("")} Scroll for more ${what}`;
}

/**
 * Watches `box`, a scrolling element alone in its frame (an element with class scroll-frame).
 * `cue` is the text line to place after the frame; `refresh()` after replacing the box's
 * content; `stop()` when the box goes away.
 */
export class ScrollCue {
  constructor(box, { label, nouns = { x: "content", y: "content" } }) {
    this.box = box;
    this.label = label;
    this.nouns = nouns;
    this.cue = h("p", { class: "scroll-cue", id: uniqueId("scroll-cue"), hidden: true });
    this.pending = 0;
    this.schedule = () => {
      // On the next frame: the cue's own show and hide resize the box, never in a loop.
      if (!this.pending) this.pending = requestAnimationFrame(() => { this.pending = 0; this.update(); });
    };
    this.observer = new ResizeObserver(this.schedule);
    box.addEventListener("scroll", this.schedule, { passive: true });
    this.refresh();
  }

  refresh() {
    this.observer.disconnect();
    this.observer.observe(this.box);
    for (const child of this.box.children) this.observer.observe(child);
    this.schedule();
  }

  update() {
    const box = this.box;
    const sides = box.isConnected ? hiddenSides(box) : [];
    const more = sides.join(" ");
    if ((box.dataset.more || "") === more) return;
    if (more) {
      box.dataset.more = more;
      box.tabIndex = 0;
      box.setAttribute("role", "region");
      box.setAttribute("aria-label", `${this.label} (scrolls)`);
      box.setAttribute("aria-describedby", this.cue.id);
      this.cue.textContent = cueText(sides, this.nouns);
    } else {
      delete box.dataset.more;
      for (const name of ["tabindex", "role", "aria-label", "aria-describedby"]) box.removeAttribute(name);
    }
    this.cue.hidden = !more;
  }

  stop() {
    this.observer.disconnect();
    this.box.removeEventListener("scroll", this.schedule);
    cancelAnimationFrame(this.pending);
    this.pending = 0;
  }
}

/** A scrolling `box` in its frame, followed by its cue: [frame, cue] to append, and the watcher. */
export function scrollable(box, options) {
  const watcher = new ScrollCue(box, options);
  return { frame: h("div", { class: "scroll-frame" }, box), cue: watcher.cue, watcher };
}
