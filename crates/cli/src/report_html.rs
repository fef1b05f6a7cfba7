//! `volley run --report FILE.html`: one self-contained page (no network) with the run's
//! timeline as a Gantt chart (a lane per concurrent slot, failures marked, the critical path
//! outlined, hover for details) and the run report.

use serde_json::json;
use volley::aggregator::Batch;
use volley::planner::Plan;

/// The page for a finished batch.
pub(crate) fn page(plan: &Plan, batch: &Batch<'_>) -> String {
    let data = json!({
        "calls": plan.calls.len(),
        "timeline": batch.timeline(),
        "report": batch.report(),
        "report_text": batch.report().text(),
        "errors": batch.errors().line,
        "results": batch.result().results,
    });
    // Inside <script>, "</" would end the element: escape it (JSON allows "\/").
    let data = data.to_string().replace("</", "<\\/");
    TEMPLATE.replace("/*DATA*/null", &data)
}

const TEMPLATE: &str = r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Volley run report</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  :root { --ok: #2e9d5b; --error: #d1453b; --timeout: #e0962b; --cancelled: #8a8f98; --skipped: #c9ccd1; }
  body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px; color: #1d2330; background: #fafbfc; }
  h1 { font-size: 20px; margin: 0 0 4px; }
  .sub { color: #5b6474; margin-bottom: 16px; }
  .cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; }
  .card { background: #fff; border: 1px solid #e3e6ea; border-radius: 8px; padding: 10px 14px; min-width: 120px; }
  .card b { display: block; font-size: 20px; }
  .card span { color: #5b6474; font-size: 12px; }
  #chart { background: #fff; border: 1px solid #e3e6ea; border-radius: 8px; padding: 8px; overflow-x: auto; }
  svg text { font-size: 11px; fill: #1d2330; }
  .bar { stroke: #fff; stroke-width: 1; }
  .bar.critical { stroke: #1d2330; stroke-width: 2.5; }
  .queued { fill: #e8ebf0; }
  .axis line { stroke: #e3e6ea; }
  .legend { display: flex; gap: 14px; margin: 8px 0 0; font-size: 12px; color: #5b6474; }
  .legend i { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 4px; vertical-align: -2px; }
  #tip { position: fixed; pointer-events: none; background: #1d2330; color: #fff; padding: 6px 9px; border-radius: 6px; font-size: 12px; display: none; max-width: 420px; white-space: pre-wrap; }
  table { border-collapse: collapse; margin-top: 16px; background: #fff; }
  th, td { border: 1px solid #e3e6ea; padding: 4px 10px; text-align: left; font-size: 13px; }
  th { background: #f2f4f7; }
  pre { background: #fff; border: 1px solid #e3e6ea; border-radius: 8px; padding: 12px; overflow-x: auto; }
  .errors { color: var(--error); margin: 8px 0; }
</style>
</head>
<body>
<h1>Volley run</h1>
<div class="sub" id="sub"></div>
<div class="cards" id="cards"></div>
<div id="chart"></div>
<div class="legend">
  <span><i style="background:var(--ok)"></i>ok</span><span><i style="background:var(--error)"></i>error</span>
  <span><i style="background:var(--timeout)"></i>timeout</span><span><i style="background:var(--cancelled)"></i>cancelled</span>
  <span><i style="background:var(--skipped)"></i>skipped</span><span><i style="background:#e8ebf0"></i>queued</span>
  <span><i style="background:#fff;border:2.5px solid #1d2330;width:8px;height:8px"></i>critical path</span>
</div>
<div class="errors" id="errors"></div>
<h2>Report</h2>
<pre id="report"></pre>
<h2>Calls</h2>
<table id="calls"><thead><tr><th>#</th><th>id</th><th>tool</th><th>status</th><th>wave</th><th>lane</th><th>queued</th><th>start</th><th>end</th><th>attempts</th></tr></thead><tbody></tbody></table>
<div id="tip"></div>
<script id="data" type="application/json">/*DATA*/null</script>
<script>
(function () {
  var data = JSON.parse(document.getElementById("data").textContent);
  var t = data.timeline, r = data.report;
  var ms = function (v) { return v == null ? "–" : (v >= 1000 ? (v / 1000).toFixed(2) + " s" : v + " ms"); };
  document.getElementById("sub").textContent =
    data.calls + " calls · " + t.waves + " waves · " + t.lanes + " lanes · wall " + ms(t.wall_ms);
  var cards = [["wall time", ms(r.wall_ms)], ["one after another", ms(r.sequential_ms)],
               ["speedup", r.speedup.toFixed(2) + "×"], ["critical path", ms(r.critical_path_ms)],
               ["efficiency", (r.efficiency * 100).toFixed(0) + "%"], ["peak concurrency", r.peak_concurrency],
               ["ok", r.ok + " / " + r.total], ["retries", r.retries]];
  document.getElementById("cards").innerHTML = cards.map(function (c) {
    return '<div class="card"><b>' + c[1] + '</b><span>' + c[0] + '</span></div>';
  }).join("");
  var errors = document.getElementById("errors");
  errors.textContent = data.errors || "";
  if (r.ok === r.total) errors.style.color = "#2e9d5b";
  document.getElementById("report").textContent = data.report_text;

  var NS = "http://www.w3.org/2000/svg", rowH = 26, left = 150, width = 900, top = 24;
  var lanes = Math.max(t.lanes, 1), wall = Math.max(t.wall_ms, 1);
  var unlaned = t.calls.filter(function (c) { return c.lane == null; });
  var rows = lanes + (unlaned.length ? 1 : 0);
  var svg = document.createElementNS(NS, "svg");
  svg.setAttribute("width", left + width + 20);
  svg.setAttribute("height", top + rows * rowH + 10);
  var x = function (v) { return left + (v / wall) * width; };
  function el(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    (parent || svg).appendChild(e);
    return e;
  }
  var axis = el("g", {"class": "axis"});
  for (var i = 0; i <= 10; i++) {
    var v = wall * i / 10;
    el("line", {x1: x(v), x2: x(v), y1: top - 6, y2: top + rows * rowH}, axis);
    el("text", {x: x(v) - 12, y: 12}, axis).textContent = ms(Math.round(v));
  }
  for (var l = 0; l < lanes; l++) el("text", {x: 8, y: top + l * rowH + 17}).textContent = "lane " + (l + 1);
  if (unlaned.length) el("text", {x: 8, y: top + lanes * rowH + 17}).textContent = "never ran";
  var tip = document.getElementById("tip");
  t.calls.forEach(function (c, k) {
    var row = c.lane == null ? lanes : c.lane, y = top + row * rowH + 3;
    var start = c.start_ms == null ? c.end_ms : c.start_ms;
    var g = el("g", {});
    if (c.queued_ms != null && c.queued_ms < start)
      el("rect", {"class": "queued", x: x(c.queued_ms), y: y + 6, width: Math.max(x(start) - x(c.queued_ms), 1), height: rowH - 18}, g);
    var rect = el("rect", {"class": "bar" + (c.critical ? " critical" : ""), x: x(start), y: y,
      width: Math.max(x(c.end_ms) - x(start), 3), height: rowH - 6, rx: 3,
      fill: "var(--" + c.status + ")"}, g);
    var label = el("text", {x: x(start) + 4, y: y + 14}, g);
    label.textContent = (x(c.end_ms) - x(start) > 60) ? c.id : "";
    var res = data.results[k] || {};
    var detail = c.id + " (" + c.tool + ")\nstatus: " + c.status + "\nwave: " + (c.wave == null ? "–" : c.wave) +
      "\nqueued " + ms(c.queued_ms) + " · start " + ms(c.start_ms) + " · end " + ms(c.end_ms) +
      "\nattempts: " + c.attempts + (c.critical ? "\non the critical path" : "") +
      (res.error ? "\n" + res.error.kind + ": " + res.error.message : "");
    g.addEventListener("mousemove", function (ev) {
      tip.style.display = "block"; tip.style.left = (ev.clientX + 12) + "px"; tip.style.top = (ev.clientY + 12) + "px";
      tip.textContent = detail;
    });
    g.addEventListener("mouseleave", function () { tip.style.display = "none"; });
    el("title", {}, g).textContent = detail;
  });
  document.getElementById("chart").appendChild(svg);

  var body = document.querySelector("#calls tbody");
  t.calls.forEach(function (c, k) {
    var tr = document.createElement("tr");
    [k + 1, c.id, c.tool, c.status, c.wave == null ? "–" : c.wave, c.lane == null ? "–" : c.lane + 1,
     ms(c.queued_ms), ms(c.start_ms), ms(c.end_ms), c.attempts].forEach(function (v) {
      var td = document.createElement("td"); td.textContent = v; tr.appendChild(td);
    });
    body.appendChild(tr);
  });
  document.body.setAttribute("data-rendered", "true");
})();
</script>
</body>
</html>
"##;
