// A little progressive enhancement. Every value from the server is set with textContent or as an SVG
// attribute; nothing here builds HTML from strings, so document text can never become markup.
"use strict";

function autosubmit() {
  document.querySelectorAll("select.autosubmit").forEach((s) => {
    s.addEventListener("change", () => s.form && s.form.submit());
  });
}

function remember() {
  // The reviewer name is remembered across sessions; the token only for this browser tab.
  document.querySelectorAll("input.remember").forEach((inp) => {
    const store = inp.type === "password" ? window.sessionStorage : window.localStorage;
    const key = "curation-ui-" + inp.name;
    if (!inp.value && store.getItem(key)) inp.value = store.getItem(key);
    inp.addEventListener("change", () => store.setItem(key, inp.value));
  });
}

function fmt(n) {
  if (n === null || n === undefined || !isFinite(n)) return "∞";
  const a = Math.abs(n);
  if (a >= 1e12) return (n / 1e12).toFixed(1) + "T";
  if (a >= 1e9) return (n / 1e9).toFixed(1) + "B";
  if (a >= 1e6) return (n / 1e6).toFixed(1) + "M";
  if (a >= 1e3) return (n / 1e3).toFixed(1) + "k";
  return Number.isInteger(n) ? String(n) : n.toPrecision(4);
}

function keptAt(c, t, keep) {
  const n = c.docs.length;
  const width = c.hi > c.lo ? (c.hi - c.lo) / n : 1;
  let docs = 0, tokens = 0;
  for (let i = 0; i < n; i++) {
    const a = c.lo + i * width, b = c.lo + (i + 1) * width;
    let share = (keep === "above" ? a >= t : b <= t) ? 1 : 0;
    if (a < t && t < b) share = keep === "above" ? (b - t) / (b - a) : (t - a) / (b - a);
    docs += c.docs[i] * share;
    tokens += c.tokens[i] * share;
  }
  return { docs, tokens };
}

const SVG = "http://www.w3.org/2000/svg";
function el(name, attrs) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

function drawCurve(box, c, t) {
  const W = 560, H = 180, L = 40, B = 24, groups = 100;
  const n = c.tokens.length, per = Math.max(1, Math.floor(n / groups));
  const vals = [];
  for (let i = 0; i < n; i += per) vals.push(c.tokens.slice(i, i + per).reduce((x, y) => x + y, 0));
  const peak = Math.max(1, ...vals);
  const svg = el("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img" });
  const pw = W - L - 10, ph = H - B - 10, bw = pw / vals.length;
  vals.forEach((v, i) => {
    const h = (ph * v) / peak;
    const a = c.lo + ((c.hi - c.lo) * i) / vals.length;
    const kept = document.getElementById("wi-keep").value === "above" ? a >= t : a < t;
    svg.appendChild(el("rect", { x: L + i * bw, y: 10 + ph - h, width: Math.max(bw - 0.5, 0.5), height: h, fill: kept ? "#3a7d44" : "#b9c3cc" }));
  });
  const span = c.hi - c.lo || 1;
  const x = L + pw * Math.min(Math.max((t - c.lo) / span, 0), 1);
  svg.appendChild(el("line", { x1: x, y1: 10, x2: x, y2: 10 + ph, stroke: "#d00", "stroke-width": 2 }));
  const lab = el("text", { x: L, y: H - 6, "font-size": 11 });
  lab.textContent = `${c.column}: tokens per bin (green = kept)`;
  svg.appendChild(lab);
  box.replaceChildren(svg);
}

function whatif() {
  const form = document.getElementById("whatif-form");
  const data = document.getElementById("wi-curve");
  if (!form || !data) return;
  const c = JSON.parse(data.textContent);
  if (c.lo === null) return;
  const slider = document.getElementById("wi-slider"), box = document.getElementById("wi-threshold");
  const budget = document.getElementById("wi-budget"), keep = document.getElementById("wi-keep");
  slider.step = (c.hi - c.lo) / 1000 || "any";
  const total = c.tokens.reduce((x, y) => x + y, 0);
  let timer = null;
  function update(fromSlider) {
    if (fromSlider) box.value = Number(slider.value).toPrecision(5); else slider.value = box.value;
    const t = Number(box.value), b = Number(budget.value);
    const k = keptAt(c, t, keep.value);
    document.getElementById("wi-docs").textContent = fmt(Math.round(k.docs));
    document.getElementById("wi-tokens").textContent = fmt(Math.round(k.tokens));
    document.getElementById("wi-share").textContent = total ? ((100 * k.tokens) / total).toFixed(1) + "%" : "0%";
    document.getElementById("wi-reps").textContent = k.tokens > 0 ? fmt(b / k.tokens) : "∞";
    drawCurve(document.getElementById("wi-chart"), c, t);
    clearTimeout(timer);
    timer = setTimeout(() => fetchPlan(form.dataset.run, c.column, t, b, keep.value), 300);
  }
  slider.addEventListener("input", () => update(true));
  box.addEventListener("input", () => update(false));
  budget.addEventListener("input", () => update(false));
  keep.addEventListener("change", () => update(false));
  update(false);
}

async function fetchPlan(run, column, t, b, keep) {
  const q = new URLSearchParams({ column, threshold: t, budget: b, keep });
  const res = await fetch(`/run/${encodeURIComponent(run)}/whatif/plan.json?${q}`);
  if (!res.ok) return;
  const plan = await res.json();
  const box = document.getElementById("wi-plan");
  if (!plan.available) {
    const p = document.createElement("p");
    p.className = "nodata";
    p.textContent = plan.why;
    box.replaceChildren(p);
  } else {
    const table = document.createElement("table");
    table.className = "grid kv";
    for (const [k, v] of Object.entries(plan.plan)) {
      const tr = table.insertRow(), th = document.createElement("th");
      th.textContent = k;
      tr.appendChild(th);
      tr.insertCell().textContent = typeof v === "number" ? fmt(v) : JSON.stringify(v);
    }
    box.replaceChildren(table);
  }
  const rows = document.querySelectorAll("#wi-pools tbody tr");
  (plan.pools || []).forEach((p, i) => {
    if (!rows[i]) return;
    rows[i].cells[3].textContent = fmt(p.repetitions) + (p.over_guard ? " (over 16)" : "");
    rows[i].classList.toggle("warn", p.over_guard);
  });
}

document.addEventListener("DOMContentLoaded", () => { autosubmit(); remember(); whatif(); });
