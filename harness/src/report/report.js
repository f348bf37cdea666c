// faultline report: timeline, latency and throughput drawn on canvases from
// the columns in #data. Every view shares one time window (zoom and pan).
(function () {
  "use strict";
  var statusEl = document.getElementById("status");
  function setStatus(state, text) {
    document.body.setAttribute("data-rendered", state);
    statusEl.textContent = text;
  }
  window.addEventListener("error", function (e) {
    setStatus("error", "error: " + e.message);
  });

  var COLORS = ["#5aa469", "#e05a4f", "#f0b429"]; // ok, fail, info
  var OUTCOMES = ["ok", "fail", "info"];
  var FAULT_COLORS = {
    kill: "rgba(201,48,44,0.13)",
    pause: "rgba(47,111,181,0.13)",
    partition: "rgba(140,70,180,0.13)",
    drop: "rgba(200,138,18,0.15)",
    "power-loss": "rgba(60,60,60,0.16)",
    corrupt: "rgba(20,130,120,0.15)"
  };
  var LABEL_COLORS = {
    kill: "#a02622", pause: "#2f6fb5", partition: "#7a3aa0", drop: "#9a6a08",
    "power-loss": "#333333", corrupt: "#14827a"
  };

  var dataEl = document.getElementById("data");
  var D = JSON.parse(dataEl.textContent);
  dataEl.textContent = ""; // parsed: free the text
  var n = D.n;
  var inv = new Float64Array(n), comp = new Float64Array(n), lat = new Float64Array(n);
  var lane = new Int32Array(n), outc = new Uint8Array(n), fn = new Int32Array(n), idx = new Float64Array(n);
  var end = Math.max(D.end, 1);
  (function decode() {
    var t = 0, ix = 0, i;
    for (i = 0; i < n; i++) {
      t += D.t[i];
      ix += D.idx[i];
      inv[i] = t;
      idx[i] = ix;
      lat[i] = D.lat[i];
      comp[i] = D.lat[i] < 0 ? end : t + D.lat[i];
      lane[i] = D.lane[i];
      outc[i] = D.code[i] % 3;
      fn[i] = (D.code[i] / 3) | 0;
    }
    D.t = D.lat = D.lane = D.code = D.idx = null;
  })();
  var lanes = D.lanes.length;
  var faults = D.faults;

  var view = { lo: 0, hi: end };
  var MIN_SPAN = 50; // µs

  function fmtTime(us) {
    var s = us / 1e6;
    return s >= 100 ? s.toFixed(0) + " s" : s >= 1 ? s.toFixed(2) + " s" : (us / 1000).toFixed(1) + " ms";
  }
  function niceStep(span, target) {
    var raw = span / target, p = Math.pow(10, Math.floor(Math.log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
  }

  // A canvas sized to its CSS width at the device's pixel ratio.
  function setup(canvas, cssHeight) {
    var ratio = window.devicePixelRatio || 1;
    var w = canvas.parentNode.clientWidth || 1000;
    canvas.style.height = cssHeight + "px";
    canvas.width = Math.round(w * ratio);
    canvas.height = Math.round(cssHeight * ratio);
    var ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    return { ctx: ctx, w: w, h: cssHeight, ratio: ratio };
  }

  var LEFT = 54, RIGHT = 12;
  function xOf(t, w) {
    return LEFT + ((t - view.lo) / (view.hi - view.lo)) * (w - LEFT - RIGHT);
  }
  function tOf(x, w) {
    return view.lo + ((x - LEFT) / (w - LEFT - RIGHT)) * (view.hi - view.lo);
  }

  function drawBands(c, top, bottom, labels) {
    var ctx = c.ctx, rows = [];
    for (var i = 0; i < faults.length; i++) {
      var f = faults[i];
      if (f.end < view.lo || f.start > view.hi) continue;
      var x0 = Math.max(LEFT, xOf(f.start, c.w)), x1 = Math.min(c.w - RIGHT, xOf(f.end, c.w));
      ctx.fillStyle = FAULT_COLORS[f.kind] || "rgba(90,100,115,0.13)";
      ctx.fillRect(x0, top, Math.max(1.5, x1 - x0), bottom - top);
      if (!labels) continue;
      // Labels stack in rows so overlapping faults stay readable.
      ctx.font = "11px system-ui, sans-serif";
      var wl = ctx.measureText(f.label).width + 6, row = 0;
      while (row < rows.length && rows[row] > x0) row++;
      if (row > 3) continue;
      rows[row] = x0 + wl;
      ctx.fillStyle = LABEL_COLORS[f.kind] || "#444";
      ctx.fillText(f.label, x0 + 2, 12 + row * 13);
    }
  }

  function drawTimeAxis(c, y) {
    var ctx = c.ctx, span = view.hi - view.lo, step = niceStep(span, c.w / 110);
    ctx.fillStyle = "#5a6473";
    ctx.strokeStyle = "#eceff3";
    ctx.font = "11px system-ui, sans-serif";
    ctx.textAlign = "center";
    for (var t = Math.ceil(view.lo / step) * step; t <= view.hi; t += step) {
      var x = xOf(t, c.w);
      ctx.beginPath();
      ctx.moveTo(x + 0.5, 0);
      ctx.lineTo(x + 0.5, y - 12);
      ctx.stroke();
      ctx.fillText(fmtTime(t), x, y);
    }
    ctx.textAlign = "left";
  }

  function drawDetected(c, top, bottom) {
    if (D.detected === null || D.detected < view.lo || D.detected > view.hi) return;
    var x = xOf(D.detected, c.w), ctx = c.ctx;
    ctx.strokeStyle = "#c9302c";
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.moveTo(x, top);
    ctx.lineTo(x, bottom);
    ctx.stroke();
    ctx.lineWidth = 1;
    ctx.fillStyle = "#c9302c";
    ctx.font = "bold 11px system-ui, sans-serif";
    ctx.fillText("anomaly", x + 3, bottom - 4);
  }

  // ---- timeline ----
  var tl = document.getElementById("timeline");
  var BAND_TOP = 56;
  var laneH = Math.max(2, Math.min(16, Math.floor(560 / Math.max(1, lanes))));
  var tlHeight = BAND_TOP + lanes * laneH + 24;
  var tlc;
  function drawTimeline() {
    tlc = setup(tl, tlHeight);
    var ctx = tlc.ctx, w = tlc.w, bottom = BAND_TOP + lanes * laneH;
    ctx.clearRect(0, 0, w, tlHeight);
    drawTimeAxis(tlc, tlHeight - 6);
    drawBands(tlc, 0, bottom, true);
    var scale = (w - LEFT - RIGHT) / (view.hi - view.lo);
    var pad = laneH >= 6 ? 1 : 0;
    // One pass per outcome; within a lane, a bar ending inside the pixel
    // already painted is skipped, so the work per frame is bounded by the
    // canvas, not the history.
    var last = new Float64Array(lanes);
    for (var o = 0; o < 3; o++) {
      last.fill(-1);
      ctx.fillStyle = COLORS[o];
      ctx.beginPath();
      for (var i = 0; i < n; i++) {
        if (outc[i] !== o) continue;
        var a = inv[i], b = comp[i];
        if (b < view.lo || a > view.hi) continue;
        var l = lane[i];
        var x0 = Math.floor(LEFT + (Math.max(a, view.lo) - view.lo) * scale);
        var x1 = Math.max(x0 + 1, Math.ceil(LEFT + (Math.min(b, view.hi) - view.lo) * scale));
        if (x1 <= last[l]) continue;
        if (x0 < last[l]) x0 = last[l];
        last[l] = x1;
        ctx.rect(x0, BAND_TOP + l * laneH + pad, x1 - x0, laneH - 2 * pad);
      }
      ctx.fill();
    }
    ctx.clearRect(0, BAND_TOP, LEFT, bottom - BAND_TOP);
    if (laneH >= 9) {
      ctx.fillStyle = "#5a6473";
      ctx.font = Math.min(11, laneH - 1) + "px system-ui, sans-serif";
      for (var k = 0; k < lanes; k++) ctx.fillText("p" + D.lanes[k], 4, BAND_TOP + k * laneH + laneH - 2);
    } else {
      ctx.fillStyle = "#5a6473";
      ctx.font = "11px system-ui, sans-serif";
      ctx.fillText(lanes + " procs", 2, BAND_TOP + 12);
    }
    drawDetected(tlc, BAND_TOP - 4, bottom);
  }

  // ---- latency ----
  var LAT_H = 300, LAT_TOP = 44, LAT_BOTTOM = 24;
  var latCanvas = document.getElementById("latency");
  var offscreen = document.createElement("canvas");
  var minLat = Infinity, maxLat = 0;
  for (var i0 = 0; i0 < n; i0++) {
    if (lat[i0] < 0) continue;
    var v0 = Math.max(lat[i0], 1);
    if (v0 < minLat) minLat = v0;
    if (v0 > maxLat) maxLat = v0;
  }
  if (!isFinite(minLat)) { minLat = 1; maxLat = 1000; }
  var lgLo = Math.floor(Math.log10(minLat)), lgHi = Math.max(lgLo + 1, Math.ceil(Math.log10(maxLat)));
  function yLat(us) {
    var frac = (Math.log10(Math.max(us, 1)) - lgLo) / (lgHi - lgLo);
    return LAT_TOP + (1 - frac) * (LAT_H - LAT_TOP - LAT_BOTTOM);
  }
  function fmtLat(us) {
    return us >= 1e6 ? us / 1e6 + " s" : us >= 1000 ? us / 1000 + " ms" : us + " µs";
  }
  function drawLatency() {
    var c = setup(latCanvas, LAT_H), ctx = c.ctx, w = c.w;
    ctx.clearRect(0, 0, w, LAT_H);
    drawBands(c, LAT_TOP - 4, LAT_H - LAT_BOTTOM, false);
    ctx.strokeStyle = "#eceff3";
    ctx.fillStyle = "#5a6473";
    ctx.font = "11px system-ui, sans-serif";
    for (var e = lgLo; e <= lgHi; e++) {
      var y = yLat(Math.pow(10, e));
      ctx.beginPath();
      ctx.moveTo(LEFT, y + 0.5);
      ctx.lineTo(w - RIGHT, y + 0.5);
      ctx.stroke();
      ctx.fillText(fmtLat(Math.pow(10, e)), 2, y + 4);
    }
    drawTimeAxis(c, LAT_H - 6);
    // Points go into an image buffer: a million are one putImageData.
    var pw = Math.round(w * c.ratio), ph = Math.round(LAT_H * c.ratio);
    offscreen.width = pw;
    offscreen.height = ph;
    var octx = offscreen.getContext("2d"), img = octx.createImageData(pw, ph), px = img.data;
    var rgb = COLORS.map(function (h) {
      return [parseInt(h.substr(1, 2), 16), parseInt(h.substr(3, 2), 16), parseInt(h.substr(5, 2), 16)];
    });
    var scale = (w - LEFT - RIGHT) / (view.hi - view.lo), r = c.ratio;
    var dot = Math.max(1, Math.round(1.5 * r));
    // Quantiles per time bucket from log-latency histograms (no sorting).
    var BUCKETS = Math.max(10, Math.min(160, Math.floor((w - LEFT) / 8))), BINS = 200;
    var hist = new Int32Array(BUCKETS * BINS), counts = new Int32Array(BUCKETS);
    for (var i = 0; i < n; i++) {
      if (lat[i] < 0) continue;
      var t = comp[i];
      if (t < view.lo || t > view.hi) continue;
      var x = Math.floor((LEFT + (t - view.lo) * scale) * r), yy = Math.floor(yLat(lat[i]) * r);
      var col = rgb[outc[i]];
      for (var dy = 0; dy < dot; dy++) {
        var row = (yy + dy) * pw;
        for (var dx = 0; dx < dot; dx++) {
          var p = (row + x + dx) * 4;
          px[p] = col[0]; px[p + 1] = col[1]; px[p + 2] = col[2]; px[p + 3] = 200;
        }
      }
      var b = Math.min(BUCKETS - 1, Math.floor(((t - view.lo) / (view.hi - view.lo)) * BUCKETS));
      var bin = Math.min(BINS - 1, Math.max(0, Math.floor(((Math.log10(Math.max(lat[i], 1)) - lgLo) / (lgHi - lgLo)) * BINS)));
      hist[b * BINS + bin]++;
      counts[b]++;
    }
    octx.putImageData(img, 0, 0);
    ctx.drawImage(offscreen, 0, 0, w, LAT_H);
    var qs = [[0.5, "#1d2430", "p50"], [0.95, "#2f6fb5", "p95"], [0.99, "#7a3aa0", "p99"]];
    for (var q = 0; q < qs.length; q++) {
      ctx.strokeStyle = qs[q][1];
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      var started = false;
      for (var bk = 0; bk < BUCKETS; bk++) {
        if (counts[bk] === 0) { started = false; continue; }
        var want = Math.ceil(qs[q][0] * counts[bk]), acc = 0, bi = 0;
        for (bi = 0; bi < BINS; bi++) { acc += hist[bk * BINS + bi]; if (acc >= want) break; }
        var lg = lgLo + ((bi + 0.5) / BINS) * (lgHi - lgLo);
        var xq = LEFT + ((bk + 0.5) / BUCKETS) * (w - LEFT - RIGHT), yq = yLat(Math.pow(10, lg));
        if (started) ctx.lineTo(xq, yq); else ctx.moveTo(xq, yq);
        started = true;
      }
      ctx.stroke();
      ctx.fillStyle = qs[q][1];
      ctx.fillText(qs[q][2], w - RIGHT - 90 + q * 30, 14);
    }
    ctx.lineWidth = 1;
    drawDetected(c, LAT_TOP - 4, LAT_H - LAT_BOTTOM);
    legend(ctx, LEFT, 14);
  }

  function legend(ctx, x, y) {
    ctx.font = "11px system-ui, sans-serif";
    for (var o = 0; o < 3; o++) {
      ctx.fillStyle = COLORS[o];
      ctx.fillRect(x + o * 50, y - 8, 9, 9);
      ctx.fillStyle = "#5a6473";
      ctx.fillText(OUTCOMES[o], x + o * 50 + 12, y);
    }
  }

  // ---- throughput ----
  var TP_H = 220, TP_TOP = 24, TP_BOTTOM = 24;
  var tpCanvas = document.getElementById("throughput");
  function drawThroughput() {
    var c = setup(tpCanvas, TP_H), ctx = c.ctx, w = c.w;
    ctx.clearRect(0, 0, w, TP_H);
    drawBands(c, TP_TOP - 4, TP_H - TP_BOTTOM, false);
    var BUCKETS = Math.max(10, Math.min(300, Math.floor((w - LEFT) / 4)));
    var per = [new Float64Array(BUCKETS), new Float64Array(BUCKETS), new Float64Array(BUCKETS)];
    var span = view.hi - view.lo;
    for (var i = 0; i < n; i++) {
      if (lat[i] < 0) continue;
      var t = comp[i];
      if (t < view.lo || t > view.hi) continue;
      per[outc[i]][Math.min(BUCKETS - 1, Math.floor(((t - view.lo) / span) * BUCKETS))]++;
    }
    var secs = span / 1e6 / BUCKETS, max = 1;
    for (var o = 0; o < 3; o++) for (var b = 0; b < BUCKETS; b++) { per[o][b] /= secs; if (per[o][b] > max) max = per[o][b]; }
    var step = niceStep(max, 4), top = Math.ceil(max / step) * step;
    function y(v) { return TP_TOP + (1 - v / top) * (TP_H - TP_TOP - TP_BOTTOM); }
    ctx.strokeStyle = "#eceff3";
    ctx.fillStyle = "#5a6473";
    ctx.font = "11px system-ui, sans-serif";
    for (var v = 0; v <= top; v += step) {
      ctx.beginPath();
      ctx.moveTo(LEFT, y(v) + 0.5);
      ctx.lineTo(w - RIGHT, y(v) + 0.5);
      ctx.stroke();
      ctx.fillText(v >= 1000 ? v / 1000 + "k/s" : v + "/s", 2, y(v) + 4);
    }
    drawTimeAxis(c, TP_H - 6);
    for (o = 0; o < 3; o++) {
      ctx.strokeStyle = COLORS[o];
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      for (b = 0; b < BUCKETS; b++) {
        var x = LEFT + ((b + 0.5) / BUCKETS) * (w - LEFT - RIGHT);
        if (b === 0) ctx.moveTo(x, y(per[o][b])); else ctx.lineTo(x, y(per[o][b]));
      }
      ctx.stroke();
    }
    ctx.lineWidth = 1;
    drawDetected(c, TP_TOP - 4, TP_H - TP_BOTTOM);
    legend(ctx, LEFT, 14);
  }

  // ---- interaction ----
  var rangeEl = document.getElementById("range");
  var pending = false;
  function drawAll() {
    drawTimeline();
    drawLatency();
    drawThroughput();
    rangeEl.textContent = fmtTime(view.lo) + " – " + fmtTime(view.hi);
  }
  function redraw() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(function () {
      pending = false;
      drawAll();
    });
  }
  function zoom(factor, atT) {
    var span = Math.min(end, Math.max(MIN_SPAN, (view.hi - view.lo) * factor));
    var frac = (atT - view.lo) / (view.hi - view.lo);
    var lo = atT - frac * span;
    lo = Math.max(0, Math.min(end - span, lo));
    view.lo = lo;
    view.hi = lo + span;
    redraw();
  }
  function reset() {
    view.lo = 0;
    view.hi = end;
    redraw();
  }
  [tl, latCanvas, tpCanvas].forEach(function (cv) {
    var drag = null;
    cv.addEventListener("wheel", function (e) {
      e.preventDefault();
      var rect = cv.getBoundingClientRect();
      zoom(Math.exp(e.deltaY * 0.0015), tOf(e.clientX - rect.left, rect.width));
    }, { passive: false });
    cv.addEventListener("mousedown", function (e) {
      drag = { x: e.clientX, lo: view.lo, hi: view.hi };
      cv.classList.add("dragging");
    });
    window.addEventListener("mouseup", function () {
      drag = null;
      cv.classList.remove("dragging");
    });
    window.addEventListener("mousemove", function (e) {
      if (!drag) return;
      var rect = cv.getBoundingClientRect();
      var dt = ((e.clientX - drag.x) / (rect.width - LEFT - RIGHT)) * (drag.hi - drag.lo);
      var span = drag.hi - drag.lo, lo = Math.max(0, Math.min(end - span, drag.lo - dt));
      view.lo = lo;
      view.hi = lo + span;
      redraw();
    });
    cv.addEventListener("dblclick", reset);
  });
  document.getElementById("zoom-in").addEventListener("click", function () { zoom(0.5, (view.lo + view.hi) / 2); });
  document.getElementById("zoom-out").addEventListener("click", function () { zoom(2, (view.lo + view.hi) / 2); });
  document.getElementById("zoom-reset").addEventListener("click", reset);
  window.addEventListener("resize", redraw);

  // Hover on the timeline: the operation under the pointer.
  var byLane = null, tip = document.getElementById("tip");
  function laneIndex() {
    var starts = new Int32Array(lanes + 1), i;
    for (i = 0; i < n; i++) starts[lane[i] + 1]++;
    for (i = 0; i < lanes; i++) starts[i + 1] += starts[i];
    var fill = starts.slice(0, lanes), order = new Int32Array(n);
    for (i = 0; i < n; i++) order[fill[lane[i]]++] = i;
    return { starts: starts, order: order };
  }
  tl.addEventListener("mousemove", function (e) {
    var rect = tl.getBoundingClientRect(), x = e.clientX - rect.left, y = e.clientY - rect.top;
    var l = Math.floor((y - BAND_TOP) / laneH);
    if (l < 0 || l >= lanes || x < LEFT) { tip.hidden = true; return; }
    if (!byLane) byLane = laneIndex();
    var t = tOf(x, rect.width), slack = (2 / rect.width) * (view.hi - view.lo);
    var a = byLane.starts[l], b = byLane.starts[l + 1], found = -1;
    while (a < b) { // last operation invoked at or before t (+ slack)
      var m = (a + b) >> 1;
      if (inv[byLane.order[m]] <= t + slack) a = m + 1; else b = m;
    }
    if (a > byLane.starts[l]) {
      var i = byLane.order[a - 1];
      if (comp[i] + slack >= t) found = i;
    }
    if (found < 0) { tip.hidden = true; return; }
    var key = D.keys[D.key[found]], val = D.val[found];
    tip.textContent = "p" + D.lanes[l] + " " + D.fs[fn[found]] + (key ? " " + key : "") + (val ? " " + val : "") +
      " → " + OUTCOMES[outc[found]] + (lat[found] < 0 ? " (never completed)" : "") +
      "\ninvoked " + fmtTime(inv[found]) + ", latency " + (lat[found] < 0 ? "∞" : fmtLat(lat[found])) +
      "\nhistory index " + idx[found];
    tip.style.left = e.clientX + 12 + "px";
    tip.style.top = e.clientY + 12 + "px";
    tip.hidden = false;
  });
  tl.addEventListener("mouseleave", function () { tip.hidden = true; });

  drawAll();
  var took = performance.now();
  setStatus("ok", "rendered " + n + " operations in " + Math.round(took) + " ms after navigation start");
  console.log("faultline-report: rendered " + n + " operations; " + Math.round(took) + " ms since navigation start");
})();
