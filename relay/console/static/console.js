// relayd console: timestamps in the viewer's local time, live countdowns
// of delayed messages, "select all", and a confirmation before Delete.
// Everything works without it.
(function () {
  "use strict";
  function pad(n) { return n < 10 ? "0" + n : "" + n; }
  function local(d) {
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
      pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }
  var months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  document.querySelectorAll("time[datetime]").forEach(function (t) {
    var d = new Date(t.getAttribute("datetime"));
    if (isNaN(d)) return;
    if (t.classList.contains("short")) {
      t.title = local(d);
      t.textContent = months[d.getMonth()] + " " + d.getDate() + " " + pad(d.getHours()) + ":" + pad(d.getMinutes());
    } else {
      t.title = t.textContent;
      t.textContent = local(d);
    }
  });
  function left(ms) {
    var s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return s + "s";
    var m = Math.floor(s / 60);
    if (m < 60) return m + "m " + pad(s % 60) + "s";
    return Math.floor(m / 60) + "h " + pad(m % 60) + "m";
  }
  var counters = document.querySelectorAll(".countdown[data-until]");
  function tick() {
    var now = Date.now();
    counters.forEach(function (c) {
      var ms = new Date(c.getAttribute("data-until")).getTime() - now;
      c.textContent = ms > 0 ? left(ms) : "0s";
    });
  }
  if (counters.length) { tick(); setInterval(tick, 1000); }
  var all = document.getElementById("all");
  if (all) {
    all.addEventListener("change", function () {
      document.querySelectorAll('input[name="id"][type="checkbox"]').forEach(function (b) { b.checked = all.checked; });
    });
  }
  document.querySelectorAll("button[data-confirm]").forEach(function (b) {
    b.addEventListener("click", function (e) {
      if (!window.confirm(b.getAttribute("data-confirm"))) e.preventDefault();
    });
  });
})();
