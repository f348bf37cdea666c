// The Lamport diagram of report.html's Maelstrom section (see lamport.rs).
(function () {
  "use strict";
  var el = document.getElementById("lamport-data");
  var cv = document.getElementById("lamport");
  if (!el || !cv) return;
  var D = JSON.parse(el.textContent);
  var M = D.messages, lanes = D.lanes;
  var fromIn = document.getElementById("lamport-from");
  var spanIn = document.getElementById("lamport-span");
  var tip = document.getElementById("lamport-tip");
  var note = document.getElementById("lamport-note");
  var first = M.length ? M[0][2] : 0;
  var start = D.faults.length ? Math.max(first, D.faults[0][0] - 100) : Math.max(first, 0);
  var span = 500;
  var top = 40, left = 40;
  note.textContent = M.length + " messages" + (D.truncated ? " (the first ones only; the journal holds every message)" : "");
  function laneX(i, w) {
    return lanes.length < 2 ? w / 2 : left + i * (w - 2 * left) / (lanes.length - 1);
  }
  function y(t, h) { return top + (t - start) / span * (h - top - 10); }
  function color(m) {
    if (m[4] === 1) return "#d33";
    var s = lanes[m[0]], d = lanes[m[1]];
    if (/^c\d+$/.test(s) || /^c\d+$/.test(d)) return "#36c";
    if (/^n\d+$/.test(s) && /^n\d+$/.test(d)) return "#2a6";
    return "#a6a";
  }
  function draw() {
    var dpr = window.devicePixelRatio || 1;
    var w = cv.clientWidth, h = cv.clientHeight;
    cv.width = w * dpr; cv.height = h * dpr;
    var c = cv.getContext("2d");
    c.setTransform(dpr, 0, 0, dpr, 0, 0);
    c.clearRect(0, 0, w, h);
    c.font = "11px sans-serif";
    c.fillStyle = "#f3e9c6";
    D.faults.forEach(function (f) {
      if (f[1].indexOf("start-") === 0) {
        var stop = D.end_ms;
        for (var k = 0; k < D.faults.length; k++) {
          if (D.faults[k][0] >= f[0] && D.faults[k][1] === "stop-" + f[1].slice(6)) { stop = D.faults[k][0]; break; }
        }
        var y0 = Math.max(top, y(f[0], h)), y1 = Math.min(h, y(stop, h));
        if (y1 > y0) c.fillRect(0, y0, w, y1 - y0);
      }
    });
    c.strokeStyle = "#bbb"; c.fillStyle = "#333";
    lanes.forEach(function (l, i) {
      var x = laneX(i, w);
      c.beginPath(); c.moveTo(x, top - 8); c.lineTo(x, h); c.stroke();
      c.textAlign = "center"; c.fillText(l, x, 14);
    });
    c.textAlign = "left";
    for (var t = Math.ceil(start / 100) * 100; t < start + span; t += Math.max(100, Math.pow(10, Math.floor(Math.log10(span))) )) {
      c.fillStyle = "#888"; c.fillText((t / 1000).toFixed(2) + "s", 2, y(t, h) - 2);
    }
    var drawn = 0;
    for (var i = 0; i < M.length; i++) {
      var m = M[i];
      if (m[3] < start || m[2] > start + span) continue;
      var x0 = laneX(m[0], w), x1 = laneX(m[1], w), y0 = y(m[2], h), y1 = y(m[3], h);
      c.strokeStyle = color(m);
      c.beginPath(); c.moveTo(x0, y0);
      if (m[4] === 1) { x1 = x0 + (x1 - x0) * 0.6; }
      c.lineTo(x1, y1); c.stroke();
      if (m[4] === 1) {
        c.beginPath(); c.moveTo(x1 - 4, y1 - 4); c.lineTo(x1 + 4, y1 + 4);
        c.moveTo(x1 + 4, y1 - 4); c.lineTo(x1 - 4, y1 + 4); c.stroke();
      } else {
        var a = Math.atan2(y1 - y0, x1 - x0);
        c.beginPath(); c.moveTo(x1, y1);
        c.lineTo(x1 - 7 * Math.cos(a - 0.4), y1 - 7 * Math.sin(a - 0.4));
        c.lineTo(x1 - 7 * Math.cos(a + 0.4), y1 - 7 * Math.sin(a + 0.4));
        c.closePath(); c.fillStyle = color(m); c.fill();
      }
      drawn++;
    }
    fromIn.value = (start / 1000).toFixed(3);
    spanIn.value = (span / 1000).toFixed(3);
    cv.dataset.drawn = drawn;
  }
  function nearest(px, py) {
    var w = cv.clientWidth, h = cv.clientHeight, best = null, bd = 6;
    for (var i = 0; i < M.length; i++) {
      var m = M[i];
      if (m[3] < start || m[2] > start + span) continue;
      var x0 = laneX(m[0], w), x1 = laneX(m[1], w), y0 = y(m[2], h), y1 = y(m[3], h);
      var dx = x1 - x0, dy = y1 - y0, len = dx * dx + dy * dy;
      var u = len ? Math.max(0, Math.min(1, ((px - x0) * dx + (py - y0) * dy) / len)) : 0;
      var d = Math.hypot(px - (x0 + u * dx), py - (y0 + u * dy));
      if (d < bd) { bd = d; best = m; }
    }
    return best;
  }
  cv.addEventListener("wheel", function (e) {
    e.preventDefault();
    var h = cv.clientHeight, r = cv.getBoundingClientRect();
    var at = start + (e.clientY - r.top - top) / (h - top - 10) * span;
    var f = e.deltaY > 0 ? 1.25 : 0.8;
    span = Math.max(0.5, span * f);
    start = at - (at - start) * f;
    draw();
  }, { passive: false });
  var drag = null;
  cv.addEventListener("mousedown", function (e) { drag = { y: e.clientY, start: start }; });
  window.addEventListener("mouseup", function () { drag = null; });
  cv.addEventListener("mousemove", function (e) {
    var r = cv.getBoundingClientRect();
    if (drag) {
      start = drag.start - (e.clientY - drag.y) / (cv.clientHeight - top - 10) * span;
      draw();
      return;
    }
    var m = nearest(e.clientX - r.left, e.clientY - r.top);
    tip.textContent = m ? lanes[m[0]] + " → " + lanes[m[1]] + "  " + (m[2] / 1000).toFixed(4) + "s → " +
      (m[3] / 1000).toFixed(4) + "s  " + ["delivered", "dropped", "never delivered"][m[4]] + "\n" + m[6] : "";
  });
  function fromInputs() {
    var f = parseFloat(fromIn.value), s = parseFloat(spanIn.value);
    if (isFinite(f)) start = f * 1000;
    if (isFinite(s) && s > 0) span = s * 1000;
    draw();
  }
  fromIn.addEventListener("change", fromInputs);
  spanIn.addEventListener("change", fromInputs);
  window.addEventListener("resize", draw);
  draw();
})();
