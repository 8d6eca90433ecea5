// qkv's page: a playground over /v1/completions (streamed, with per-token probabilities),
// attention views over /v1/attention (bertviz-style head and model views), and training curves
// over /v1/runs. Plain JavaScript, no dependencies.
"use strict";

const $ = (id) => document.getElementById(id);
const headColors = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324",
  "#469990", "#800000", "#808000", "#000075", "#a9a9a9", "#bfef45", "#ffe119", "#dcbeff"];

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = $("apikey").value.trim();
  if (key) h["Authorization"] = "Bearer " + key;
  return h;
}

async function api(path, body) {
  const res = await fetch(path, body === undefined ? { headers: headers() } : { method: "POST", headers: headers(), body: JSON.stringify(body) });
  const data = await res.json();
  if (!res.ok) throw new Error((data.error && data.error.message) || res.statusText);
  return data;
}

// ---- tabs ----
for (const t of document.querySelectorAll(".tab")) {
  t.addEventListener("click", () => {
    for (const o of document.querySelectorAll(".tab")) o.classList.toggle("active", o === t);
    for (const p of document.querySelectorAll(".panel")) p.classList.toggle("active", p.id === t.dataset.tab);
    if (t.dataset.tab === "runs") loadRuns();
  });
}

// ---- models ----
async function loadModels() {
  try {
    const list = await api("/v1/models");
    const health = await (await fetch("/health")).json();
    for (const sel of [$("pg-model"), $("at-model")]) sel.textContent = "";
    for (const m of list.data) {
      const type = (health.models[m.id] || {}).type || "";
      const label = m.id + (type ? " (" + type + ")" : "");
      if (type === "gpt2") $("pg-model").append(new Option(label, m.id));
      if (type === "gpt2" || type === "bert" || type === "marian" || type === "qkv-seq2seq") $("at-model").append(new Option(label, m.id));
    }
  } catch (e) {
    $("pg-status").textContent = e.message;
  }
}

// ---- playground ----
let controller = null;
const tooltip = $("tooltip");

function probColor(p) {
  // red (unlikely) to green (likely), light enough to read text on
  const hue = Math.round(120 * Math.max(0, Math.min(1, p)));
  return "hsl(" + hue + ", 75%, 80%)";
}

function showTip(ev, text) {
  tooltip.textContent = text;
  tooltip.hidden = false;
  tooltip.style.left = (ev.clientX + 12) + "px";
  tooltip.style.top = (ev.clientY + 14) + "px";
}

function addToken(out, text, logprob, top) {
  const span = document.createElement("span");
  span.className = "tok";
  span.textContent = text;
  const p = Math.exp(logprob);
  span.style.background = probColor(p);
  const alts = Object.entries(top || {}).sort((a, b) => b[1] - a[1]);
  const lines = ["p = " + p.toFixed(3)].concat(alts.map(([t, lp]) => JSON.stringify(t).padEnd(16) + " " + Math.exp(lp).toFixed(3)));
  span.addEventListener("mousemove", (ev) => showTip(ev, lines.join("\n")));
  span.addEventListener("mouseleave", () => { tooltip.hidden = true; });
  out.append(span);
}

async function generate() {
  const out = $("pg-out");
  out.textContent = "";
  const prompt = $("pg-prompt").value;
  const p = document.createElement("span");
  p.className = "prompt";
  p.textContent = prompt;
  out.append(p);
  const body = {
    model: $("pg-model").value, prompt, stream: true, logprobs: 5,
    max_tokens: parseInt($("pg-max").value, 10) || 16,
    temperature: parseFloat($("pg-temp").value),
    top_p: parseFloat($("pg-topp").value),
    stream_options: { include_usage: true },
  };
  const seed = $("pg-seed").value.trim();
  if (seed !== "") body.seed = parseInt(seed, 10);
  const stop = $("pg-stop").value;
  if (stop) body.stop = stop.replace(/\\n/g, "\n").replace(/\\t/g, "\t");
  controller = new AbortController();
  $("pg-go").disabled = true;
  $("pg-stop-btn").disabled = false;
  $("pg-status").textContent = "generating…";
  $("pg-status").classList.remove("error");
  const started = performance.now();
  let n = 0, finish = "";
  try {
    const res = await fetch("/v1/completions", { method: "POST", headers: headers(), body: JSON.stringify(body), signal: controller.signal });
    if (!res.ok) {
      const data = await res.json();
      throw new Error((data.error && data.error.message) || res.statusText);
    }
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const event = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (!event.startsWith("data: ")) continue;
        const data = event.slice(6);
        if (data === "[DONE]") continue;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new Error(chunk.error.message);
        for (const c of chunk.choices) {
          const lp = c.logprobs;
          if (lp && lp.tokens.length) {
            // One token per chunk; its text is what became visible (a split character waits).
            addToken(out, c.text, lp.token_logprobs[0], lp.top_logprobs[0]);
            n++;
          } else if (c.text) {
            addToken(out, c.text, 0, {});
          }
          if (c.finish_reason) finish = c.finish_reason;
        }
      }
    }
    const s = (performance.now() - started) / 1000;
    $("pg-status").textContent = n + " tokens in " + s.toFixed(2) + " s (" + (n / s).toFixed(1) + " tokens/s), finish: " + (finish || "stopped");
  } catch (e) {
    if (e.name === "AbortError") {
      $("pg-status").textContent = "stopped after " + n + " tokens";
    } else {
      $("pg-status").textContent = e.message;
      $("pg-status").classList.add("error");
    }
  } finally {
    $("pg-go").disabled = false;
    $("pg-stop-btn").disabled = true;
    controller = null;
  }
}
$("pg-go").addEventListener("click", generate);
$("pg-stop-btn").addEventListener("click", () => controller && controller.abort());

// ---- attention ----
let att = null;
const activeHeads = new Set();

async function showAttention() {
  $("at-status").textContent = "running…";
  $("at-status").classList.remove("error");
  try {
    att = await api("/v1/attention", { model: $("at-model").value, input: $("at-text").value });
    // Queries (left) and keys (right): the same tokens for self-attention; for an
    // encoder–decoder's cross attention, the target written and the source read.
    att.rows = att.tokens_tgt || att.tokens;
    att.cols = att.tokens_src || att.tokens;
    $("at-layer").textContent = "";
    for (let l = 0; l < att.layers; l++) $("at-layer").append(new Option(String(l), String(l)));
    activeHeads.clear();
    for (let h = 0; h < att.heads; h++) activeHeads.add(h);
    $("at-status").textContent = att.kind + " attention, " + att.rows.length + "×" + att.cols.length + " tokens, " + att.layers + " layers × " + att.heads + " heads";
    drawAttention();
  } catch (e) {
    $("at-status").textContent = e.message;
    $("at-status").classList.add("error");
  }
}

function headPicker() {
  const box = $("at-heads");
  box.textContent = "";
  for (let h = 0; h < att.heads; h++) {
    const l = document.createElement("label");
    l.style.background = headColors[h % headColors.length];
    const c = document.createElement("input");
    c.type = "checkbox";
    c.checked = activeHeads.has(h);
    c.addEventListener("change", () => { c.checked ? activeHeads.add(h) : activeHeads.delete(h); drawAttention(); });
    l.append(c, document.createTextNode(String(h)));
    box.append(l);
  }
}

const svgNS = "http://www.w3.org/2000/svg";
function svgEl(name, attrs) {
  const e = document.createElementNS(svgNS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

// Head view: tokens on the left attend to tokens on the right, one colour per head, line
// opacity the attention weight. Hovering a token shows only its lines.
function drawHeadView(focus) {
  const layer = att.attention[parseInt($("at-layer").value, 10) || 0];
  const R = att.rows.length, C = att.cols.length, rowH = 20, width = 560, xl = 150, xr = 410;
  const svg = svgEl("svg", { width, height: Math.max(R, C) * rowH + 10, id: "head-view" });
  const lines = svgEl("g", {});
  svg.append(lines);
  for (const h of activeHeads) {
    for (let q = 0; q < R; q++) {
      if (focus !== undefined && focus !== q) continue;
      for (let k = 0; k < C; k++) {
        const w = layer[h][q][k];
        if (w < 0.01) continue;
        lines.append(svgEl("line", { x1: xl + 5, y1: q * rowH + 15, x2: xr - 5, y2: k * rowH + 15,
          stroke: headColors[h % headColors.length], "stroke-width": 2, "stroke-opacity": Math.min(1, w * (focus === undefined ? 0.9 : 1.2)) }));
      }
    }
  }
  for (const [tokens, x, anchor] of [[att.rows, xl, "end"], [att.cols, xr, "start"]]) {
    tokens.forEach((tok, i) => {
      const t = svgEl("text", { x, y: i * rowH + 19, "text-anchor": anchor, class: "tokenlabel" });
      t.textContent = tok;
      if (anchor === "end") {
        t.addEventListener("mouseenter", () => drawHeadView(i));
        t.addEventListener("mouseleave", () => drawHeadView());
      }
      svg.append(t);
    });
  }
  const box = $("at-canvas");
  box.textContent = "";
  box.append(svg);
}

// Model view: every layer (rows) and head (columns) as a thumbnail of the head view.
function drawModelView() {
  const box = $("at-canvas");
  box.textContent = "";
  const grid = document.createElement("div");
  grid.className = "grid";
  grid.id = "model-view";
  grid.style.gridTemplateColumns = "repeat(" + att.heads + ", 84px)";
  const R = att.rows.length, C = att.cols.length, W = 80, H = 80;
  for (let l = 0; l < att.layers; l++) {
    for (let h = 0; h < att.heads; h++) {
      const c = document.createElement("canvas");
      c.width = W; c.height = H;
      c.title = "layer " + l + ", head " + h;
      const g = c.getContext("2d");
      g.strokeStyle = headColors[h % headColors.length];
      const rstep = (H - 8) / Math.max(1, R - 1), cstep = (H - 8) / Math.max(1, C - 1);
      for (let q = 0; q < R; q++) {
        for (let k = 0; k < C; k++) {
          const w = att.attention[l][h][q][k];
          if (w < 0.02) continue;
          g.globalAlpha = Math.min(1, w);
          g.beginPath();
          g.moveTo(14, 4 + q * rstep);
          g.lineTo(W - 14, 4 + k * cstep);
          g.stroke();
        }
      }
      c.addEventListener("click", () => { $("at-view").value = "head"; $("at-layer").value = String(l); activeHeads.clear(); activeHeads.add(h); drawAttention(); });
      grid.append(c);
    }
  }
  box.append(grid);
}

function drawAttention() {
  if (!att) return;
  const head = $("at-view").value === "head";
  $("at-layer-label").hidden = !head;
  $("at-heads").hidden = !head;
  if (head) { headPicker(); drawHeadView(); } else { drawModelView(); }
}
$("at-go").addEventListener("click", showAttention);
$("at-view").addEventListener("change", drawAttention);
$("at-layer").addEventListener("change", drawAttention);

// ---- runs ----
let run = { name: "", offset: 0, records: [], timer: null };

async function loadRuns() {
  try {
    const list = await api("/v1/runs");
    const sel = $("rn-run");
    const current = sel.value;
    sel.textContent = "";
    for (const r of list.data) sel.append(new Option(r.name, r.name));
    if (!list.data.length) { $("rn-status").textContent = "no runs (start the server with --runs DIR)"; return; }
    if (current && list.data.some((r) => r.name === current)) sel.value = current;
    followRun(sel.value);
  } catch (e) {
    $("rn-status").textContent = e.message;
  }
}

function followRun(name) {
  if (run.timer) clearTimeout(run.timer);
  if (run.name !== name) run = { name, offset: 0, records: [], timer: null };
  const poll = async () => {
    try {
      for (;;) {
        const data = await api("/v1/runs/" + encodeURIComponent(name) + "/metrics?offset=" + run.offset);
        if (data.offset < run.offset) run.records = []; // the log was rewritten
        run.records.push(...data.records);
        const more = data.offset < data.size && data.offset !== run.offset;
        run.offset = data.offset;
        if (!more) break;
      }
      drawRun();
    } catch (e) {
      $("rn-status").textContent = e.message;
    }
    if (run.name === name && $("runs").classList.contains("active")) run.timer = setTimeout(poll, 2000);
  };
  poll();
}
$("rn-run").addEventListener("change", () => followRun($("rn-run").value));

function series(key) {
  return run.records.filter((r) => typeof r.step === "number" && typeof r[key] === "number" && isFinite(r[key])).map((r) => [r.step, r[key]]);
}

function plot(canvas, lines, title) {
  const g = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height, L = 60, R = 15, T = 24, B = 30;
  g.clearRect(0, 0, W, H);
  g.fillStyle = "#1d2330";
  g.font = "13px system-ui, sans-serif";
  g.fillText(title, L, 16);
  const pts = lines.flatMap((l) => l.data);
  if (!pts.length) { g.fillStyle = "#6b7280"; g.fillText("no data yet", L, H / 2); return; }
  let x0 = Math.min(...pts.map((p) => p[0])), x1 = Math.max(...pts.map((p) => p[0]));
  let y0 = Math.min(...pts.map((p) => p[1])), y1 = Math.max(...pts.map((p) => p[1]));
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) { y1 += Math.abs(y1) * 0.1 + 1e-9; y0 -= Math.abs(y0) * 0.1 + 1e-9; }
  const X = (x) => L + (x - x0) / (x1 - x0) * (W - L - R), Y = (y) => H - B - (y - y0) / (y1 - y0) * (H - T - B);
  g.strokeStyle = "#d9dce3"; g.fillStyle = "#6b7280"; g.font = "11px system-ui, sans-serif";
  for (let i = 0; i <= 4; i++) {
    const y = y0 + (y1 - y0) * i / 4;
    g.beginPath(); g.moveTo(L, Y(y)); g.lineTo(W - R, Y(y)); g.stroke();
    g.fillText(Math.abs(y) < 1e-2 && y !== 0 ? y.toExponential(1) : y.toPrecision(3), 4, Y(y) + 4);
  }
  g.fillText("step " + x0, L, H - 8);
  g.fillText(String(x1), W - R - 40, H - 8);
  lines.forEach((l, i) => {
    g.strokeStyle = l.color; g.lineWidth = 1.5;
    g.beginPath();
    l.data.forEach(([x, y], k) => (k ? g.lineTo(X(x), Y(y)) : g.moveTo(X(x), Y(y))));
    g.stroke();
    g.fillStyle = l.color;
    g.fillText(l.name, W - R - 160 + i * 80, 16);
  });
}

function drawRun() {
  const loss = series("loss"), val = series("val_loss"), lr = series("lr");
  plot($("rn-loss"), [{ name: "train loss", color: "#2f5fd0", data: loss }, { name: "val loss", color: "#e6194b", data: val }], run.name + ": loss");
  plot($("rn-lr"), [{ name: "learning rate", color: "#3cb44b", data: lr }], "learning rate");
  const last = run.records.length ? run.records[run.records.length - 1] : null;
  $("rn-status").textContent = run.records.length + " records" + (last && last.step !== undefined ? ", step " + last.step : "");
}

loadModels();
