// The layout audit of tests/web/test_layout.py, run in the page by page.evaluate. It lists what a
// reader would miss: content cut off without a cue (a box whose content is wider or taller than
// the box, unless the box scrolls from the keyboard and shows a fade edge and a text cue), content
// outside its card or out of reach of scrolling, the page scrolling sideways, and widgets or
// header elements on top of one another, and content that must be seen whole cut by a box that
// scrolls. It also returns where each widget card is, for the reading order, its place on the
// grid, and whether given metrics are in sight without scrolling.
//
// options: {cards, headers, overlap, print, inSight, whole}
//   cards    selector of the cards: nothing inside may leave its card's box
//   headers  selectors of the boxes around the cards whose content may not spill (top bar …)
//   overlap  selectors of the header elements that may not overlap each other or a card
//   print    true for print media: paper cannot scroll, so no content may be scrolled out of view
//   inSight  selector of elements that must be wholly in view without any scrolling
//   whole    selector of elements no box may cut, not even one that scrolls with a cue (the
//            page itself may scroll): rows of a table that must be shown in full
(options) => {
  const EPS = 1.5;
  const problems = [];
  const seen = new Set();
  const problem = (text) => { if (!seen.has(text)) { seen.add(text); problems.push(text); } };

  const describe = (el) => {
    let text = el.tagName.toLowerCase();
    if (el.id) text += `#${el.id}`;
    const cls = typeof el.className === "string" ? el.className.trim() : "";
    if (cls) text += `.${cls.split(/\s+/).join(".")}`;
    if (el.dataset && el.dataset.metric) text += `[data-metric=${el.dataset.metric}]`;
    const card = el.closest("[data-widget]");
    if (card && card !== el) text = `${card.dataset.widget}: ${text}`;
    else if (el.dataset && el.dataset.widget) text = `${el.dataset.widget}: ${text}`;
    const words = (el.textContent || "").trim().replace(/\s+/g, " ");
    return words ? `${text} “${words.slice(0, 40)}”` : text;
  };
  const box = (el) => el.getBoundingClientRect();
  const skipped = (el) => el.matches("select, option, input, textarea, canvas, svg, svg *");
  // A label only for screen readers: clipped away to a pixel (.sr-only), or inside one.
  const screenReaderOnly = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const style = getComputedStyle(e);
      if (style.clip !== "auto" || style.clipPath !== "none") return true;
      const r = box(e);
      if (r.width <= 1 && r.height <= 1 && style.overflow !== "visible") return true;
    }
    return false;
  };
  // Laid out and painted, even if it takes no room (its content may still spill out of it).
  const rendered = (el) => el.checkVisibility({ visibilityProperty: true }) && !screenReaderOnly(el);
  const shown = (el) => {
    const r = box(el);
    return rendered(el) && r.width > 0 && r.height > 0;
  };
  const clips = (el) => {
    const style = getComputedStyle(el);
    return style.overflowX !== "visible" || style.overflowY !== "visible";
  };
  // The box an element and what spills out of it cover: its own, and that of its text and
  // children wherever nothing clips them.
  const inkBox = (el) => {
    const rects = [box(el)];
    const walk = (node) => {
      for (const child of node.childNodes) {
        if (child.nodeType === Node.TEXT_NODE && child.textContent.trim()) {
          const range = document.createRange();
          range.selectNodeContents(child);
          rects.push(range.getBoundingClientRect());
        } else if (child.nodeType === Node.ELEMENT_NODE && rendered(child)) {
          rects.push(box(child));
          if (!clips(child)) walk(child);
        }
      }
    };
    if (!clips(el)) walk(el);
    const some = rects.filter((r) => r.width > 0 || r.height > 0);
    if (!some.length) return null;
    return {
      left: Math.min(...some.map((r) => r.left)), right: Math.max(...some.map((r) => r.right)),
      top: Math.min(...some.map((r) => r.top)), bottom: Math.max(...some.map((r) => r.bottom)),
    };
  };
  const scrolls = (value) => value === "auto" || value === "scroll";
  const AXES = [
    { name: "x", overflow: "overflowX", start: "left", end: "right", client: "clientWidth", edge: "clientLeft", scroll: "scrollLeft", size: "scrollWidth", more: ["left", "right"] },
    { name: "y", overflow: "overflowY", start: "top", end: "bottom", client: "clientHeight", edge: "clientTop", scroll: "scrollTop", size: "scrollHeight", more: ["up", "down"] },
  ];

  // 1. A box whose content overflows it: spilling (overflow visible) is always wrong; cut off
  // (hidden) only with an ellipsis; scrolling only with the keyboard, a fade edge and a text cue.
  function checkOverflow(el) {
    const style = getComputedStyle(el);
    for (const axis of AXES) {
      if (el[axis.size] - el[axis.client] <= 1) continue;
      const overflow = style[axis.overflow];
      const where = axis.name === "x" ? "sideways" : "below";
      if (overflow === "visible") {
        problem(`${describe(el)}: content spills out ${where} (${el[axis.size]} px in ${el[axis.client]} px)`);
      } else if (!scrolls(overflow)) {
        if (axis.name === "x" && style.textOverflow === "ellipsis") continue; // the … shows it
        problem(`${describe(el)}: content cut off ${where} without a cue (${el[axis.size]} px in ${el[axis.client]} px)`);
      } else if (options.print) {
        problem(`${describe(el)}: content scrolled out of view on paper (${el[axis.size]} px in ${el[axis.client]} px)`);
      } else {
        checkCue(el, axis);
      }
    }
  }

  function checkCue(el, axis) {
    const what = `${describe(el)} scrolls ${axis.name === "x" ? "sideways" : "down"} (${el[axis.size]} px in ${el[axis.client]} px)`;
    const cues = (el.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean)
      .map((id) => document.getElementById(id))
      .filter((cue) => cue && !el.contains(cue) && shown(cue) && cue.textContent.trim());
    if (!cues.length) problem(`${what} but no text cue says so`);
    if (el.tabIndex < 0) problem(`${what} but cannot be scrolled from the keyboard`);
    const marked = (el.dataset.more || "").split(/\s+/);
    const before = el[axis.scroll] > 1;
    const after = el[axis.scroll] + el[axis.client] < el[axis.size] - 1;
    for (const [hidden, side] of [[before, axis.more[0]], [after, axis.more[1]]]) {
      if (hidden && !marked.includes(side)) problem(`${what} but no fade edge marks more ${side}`);
    }
  }

  // 2. Every element stays inside its card, within reach: inside the box of its nearest clipping
  // ancestor, or (in a scrolling one) not before the start of what scrolls into view.
  function clipperOf(el, root, axis) {
    for (let p = el.parentElement; p && p !== root; p = p.parentElement) {
      if (getComputedStyle(p)[axis.overflow] !== "visible") return p;
    }
    return root;
  }

  function checkInside(el, root) {
    const r = box(el);
    for (const axis of AXES) {
      const clip = clipperOf(el, root, axis);
      const c = box(clip);
      const start = c[axis.start] + clip[axis.edge];
      const scrolling = clip !== root && scrolls(getComputedStyle(clip)[axis.overflow]);
      if (scrolling) {
        if (r[axis.start] < start - clip[axis.scroll] - EPS) {
          problem(`${describe(el)}: out of reach ${axis.name === "x" ? "left of" : "above"} ${describe(clip)}`);
        }
      } else if (r[axis.start] < c[axis.start] - EPS || r[axis.end] > c[axis.end] + EPS) {
        problem(`${describe(el)}: outside ${clip === root ? "its card" : describe(clip)} (${Math.round(r[axis.start])}–${Math.round(r[axis.end])} px, the box ${Math.round(c[axis.start])}–${Math.round(c[axis.end])} px)`);
      }
    }
  }

  const cards = [...document.querySelectorAll(options.cards)].filter(shown);
  for (const card of cards) {
    checkOverflow(card);
    for (const el of card.querySelectorAll("*")) {
      if (skipped(el) || !rendered(el)) continue;
      checkOverflow(el);
      checkInside(el, card);
    }
  }
  for (const header of document.querySelectorAll((options.headers || []).join(", ") || ":not(*)")) {
    if (!rendered(header)) continue;
    for (const el of [header, ...header.querySelectorAll("*")]) {
      if (!skipped(el) && rendered(el)) checkOverflow(el);
    }
  }

  // The page itself never scrolls sideways, and nothing sticks out of it.
  const width = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth > width + 1) {
    problem(`the page scrolls sideways (${document.documentElement.scrollWidth} px in ${width} px)`);
  }

  // 3. No two widgets, and no two header elements (with whatever spills out of them), on top
  // of one another. A card clips what it holds: its own box is all it covers.
  const placed = [
    ...[...document.querySelectorAll((options.overlap || []).join(", ") || ":not(*)")]
      .filter(rendered).map((el) => [el, inkBox(el)]),
    ...cards.map((card) => [card, box(card)]),
  ].filter(([, r]) => r);
  for (const [el, r] of placed) {
    if (r.left < -EPS || r.right > width + EPS) problem(`${describe(el)}: beyond the page's width`);
  }
  for (let i = 0; i < placed.length; i += 1) {
    for (let j = i + 1; j < placed.length; j += 1) {
      const [[a, p], [b, q]] = [placed[i], placed[j]];
      if (a.contains(b) || b.contains(a)) continue;
      const across = Math.min(p.right, q.right) - Math.max(p.left, q.left);
      const down = Math.min(p.bottom, q.bottom) - Math.max(p.top, q.top);
      if (across > EPS && down > EPS) problem(`${describe(a)} overlaps ${describe(b)}`);
    }
  }

  // 4. Metrics that must be in sight as the page opens, and content that must be seen whole:
  // no box around them hides any part (the first box that does is returned).
  const cutBy = (el) => {
    const r = box(el);
    let [left, top, right, bottom] = [r.left, r.top, r.right, r.bottom];
    for (let p = el.parentElement; p; p = p.parentElement) {
      const style = getComputedStyle(p);
      if (style.overflowX === "visible" && style.overflowY === "visible") continue;
      const c = box(p);
      left = Math.max(left, c.left + p.clientLeft);
      top = Math.max(top, c.top + p.clientTop);
      right = Math.min(right, c.left + p.clientLeft + p.clientWidth);
      bottom = Math.min(bottom, c.top + p.clientTop + p.clientHeight);
      const seenPart = Math.max(0, right - left) * Math.max(0, bottom - top);
      if (seenPart < r.width * r.height - EPS * Math.max(r.width, r.height)) return p;
    }
    return null;
  };
  const hiddenParts = [];
  const inSight = [...document.querySelectorAll(options.inSight || ":not(*)")];
  for (const el of inSight) {
    if (!shown(el) || cutBy(el)) hiddenParts.push(describe(el));
  }
  for (const el of document.querySelectorAll(options.whole || ":not(*)")) {
    if (!shown(el)) continue;
    const clip = cutBy(el);
    if (clip) problem(`${describe(el)}: cut off by ${describe(clip).split(" “")[0]}, which must show it whole`);
  }

  const scrollY = window.scrollY;
  return {
    problems,
    checked: inSight.length,
    hidden: hiddenParts,
    cards: cards.map((card) => {
      const r = box(card);
      const node = (card.closest(".grid-stack-item") || {}).gridstackNode;
      const grid = node ? { x: node.x, y: node.y, w: node.w, h: node.h } : null;
      return { id: card.dataset.widget, left: r.left, top: r.top + scrollY, width: r.width, height: r.height, grid };
    }),
  };
}
