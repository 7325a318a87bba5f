// The app's icons: small line drawings made of SVG primitives (our own, no icon font or emoji, so they look the
// same on every system). icon(name) → an <svg> that takes the text colour and is hidden from screen readers (the
// control around it carries the label).

const NS = "http://www.w3.org/2000/svg";

// Each icon: a list of [element, attributes] on a 24×24 grid.
const SHAPES = {
  search: [["circle", { cx: 10.5, cy: 10.5, r: 6.5 }], ["path", { d: "M15.5 15.5 21 21" }]],
  calendar: [["rect", { x: 3.5, y: 5, width: 17, height: 15.5, rx: 2 }], ["path", { d: "M3.5 10h17M8 3v4M16 3v4" }]],
  mail: [["rect", { x: 3, y: 5.5, width: 18, height: 13, rx: 2 }], ["path", { d: "m3.5 7 8.5 6 8.5-6" }]],
  bell: [["path", { d: "M6 16.5V11a6 6 0 0 1 12 0v5.5l1.5 2h-15zM10 20.5a2 2 0 0 0 4 0" }]],
  mic: [["rect", { x: 9, y: 3, width: 6, height: 11, rx: 3 }], ["path", { d: "M5.5 11a6.5 6.5 0 0 0 13 0M12 17.5V21" }]],
  micOff: [
    ["path", { d: "M15 10V6a3 3 0 0 0-5.8-1.1M9 9v2a3 3 0 0 0 4.6 2.5M5.5 11a6.5 6.5 0 0 0 10.4 5.2M18.5 11a6.4 6.4 0 0 1-.6 2.7M12 17.5V21" }],
    ["path", { d: "M3.5 3.5l17 17" }],
  ],
  hand: [["path", { d: "M7 12V6.5a1.5 1.5 0 0 1 3 0V11V4.5a1.5 1.5 0 0 1 3 0V11V5.5a1.5 1.5 0 0 1 3 0V12v-3a1.5 1.5 0 0 1 3 0v5.5a7 7 0 0 1-7 7h-.5a6.5 6.5 0 0 1-5.2-2.6L4 15.5a1.5 1.5 0 0 1 2.3-1.9L7 14.5" }]],
  plus: [["path", { d: "M12 5v14M5 12h14" }]],
  userPlus: [["circle", { cx: 9.5, cy: 8, r: 3.5 }], ["path", { d: "M3 20a6.5 6.5 0 0 1 13 0M19 8v6M16 11h6" }]],
  more: [["circle", { cx: 5.5, cy: 12, r: 1.2 }], ["circle", { cx: 12, cy: 12, r: 1.2 }], ["circle", { cx: 18.5, cy: 12, r: 1.2 }]],
  share: [["path", { d: "M12 15V3.5M7.5 8 12 3.5 16.5 8M5 12.5V19a1.5 1.5 0 0 0 1.5 1.5h11A1.5 1.5 0 0 0 19 19v-6.5" }]],
  leave: [["path", { d: "M14 4.5H6.5A1.5 1.5 0 0 0 5 6v12a1.5 1.5 0 0 0 1.5 1.5H14M10.5 12H21M17.5 8.5 21 12l-3.5 3.5" }]],
  star: [["path", { d: "m12 3.5 2.6 5.3 5.9.9-4.3 4.1 1 5.8-5.2-2.7-5.2 2.7 1-5.8-4.3-4.1 5.9-.9z" }]],
  lock: [["rect", { x: 5, y: 10.5, width: 14, height: 10, rx: 2 }], ["path", { d: "M8 10.5V7.5a4 4 0 0 1 8 0v3" }]],
  play: [["path", { d: "M7 4.5v15l12-7.5z" }]],
  close: [["path", { d: "M6.5 6.5l11 11M17.5 6.5l-11 11" }]],
  volume: [["path", { d: "M4 9.5h3.5L12 5.5v13l-4.5-4H4z" }], ["path", { d: "M15.5 9a4 4 0 0 1 0 6M18 6.5a7.5 7.5 0 0 1 0 11" }]],
  settings: [["path", { d: "M4 7h9M17 7h3M4 17h3M11 17h9" }], ["circle", { cx: 15, cy: 7, r: 2 }], ["circle", { cx: 9, cy: 17, r: 2 }]],
  headset: [["path", { d: "M4.5 15.5V12a7.5 7.5 0 0 1 15 0v3.5" }], ["rect", { x: 3.5, y: 13.5, width: 4, height: 6.5, rx: 1.5 }], ["rect", { x: 16.5, y: 13.5, width: 4, height: 6.5, rx: 1.5 }]],
  shield: [["path", { d: "M12 3 4.5 6v5.5c0 4.6 3.2 8.3 7.5 9.5 4.3-1.2 7.5-4.9 7.5-9.5V6z" }], ["path", { d: "m9 12 2 2 4-4" }]],
};

export function icon(name, { size = 22, filled = false } = {}) {
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", String(size));
  svg.setAttribute("height", String(size));
  svg.setAttribute("fill", filled ? "currentColor" : "none");
  svg.setAttribute("stroke", "currentColor");
  svg.setAttribute("stroke-width", "1.9");
  svg.setAttribute("stroke-linecap", "round");
  svg.setAttribute("stroke-linejoin", "round");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  svg.classList.add("icon", `icon-${name}`);
  for (const [tag, attrs] of SHAPES[name] || []) {
    const part = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) part.setAttribute(k, String(v));
    svg.append(part);
  }
  return svg;
}
