// OpenPost Analytics dashboard: progressive enhancement only. Every number is also in
// the page's tables; this file draws charts (uPlot) from the JSON embedded in the page,
// toggles the custom date inputs and asks before destructive forms. No inline handlers.
(function () {
  "use strict";

  var COLORS = {
    twitter: "#1d2430", bluesky: "#1185fe", mastodon: "#6364ff", youtube: "#e62117",
    threads: "#7a7a7a", instagram: "#c13584", facebook: "#1877f2", linkedin: "#0a66c2",
    tiktok: "#00a7a0", pinterest: "#bd081c", all: "#888888",
    impressions: "#2457c5", likes: "#c13584", comments: "#137a3a", shares: "#c77700"
  };
  var CHART_HEIGHT = 260;

  function readJson(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function fmt(value) {
    return value == null ? "\u2014" : value.toLocaleString("en-US");
  }

  function widthOf(el) {
    return Math.max(240, el.clientWidth - 16);
  }

  // Shades x ranges [from, to] (seconds) beneath a chart's series: the overview's estimated
  // days (SPEC 9.3), a post's provisional readings (SPEC 9.2). The page's text names them.
  function shade(ranges, colour) {
    return function (u) {
      var box = u.bbox;
      var ctx = u.ctx;
      ctx.save();
      ctx.fillStyle = colour;
      ranges.forEach(function (range) {
        var x0 = Math.max(box.left, u.valToPos(range[0], "x", true));
        var x1 = Math.min(box.left + box.width, u.valToPos(range[1], "x", true));
        if (x1 > x0) ctx.fillRect(x0, box.top, x1 - x0, box.height);
      });
      ctx.restore();
    };
  }
  var ESTIMATED_SHADE = "rgba(199, 119, 0, 0.10)";
  var PROVISIONAL_SHADE = "rgba(36, 87, 197, 0.10)";

  function mount(el, opts, data) {
    opts.width = widthOf(el);
    opts.height = CHART_HEIGHT;
    var plot = new uPlot(opts, data, el);
    if (window.ResizeObserver) {
      new ResizeObserver(function () {
        plot.setSize({ width: widthOf(el), height: CHART_HEIGHT });
      }).observe(el);
    }
    return plot;
  }

  // -- filters: the date inputs only matter for a custom range --------------------------
  document.querySelectorAll("select[data-range]").forEach(function (select) {
    var form = select.form;
    function sync() {
      form.querySelectorAll("input[type=date]").forEach(function (input) {
        input.disabled = select.value !== "custom";
      });
    }
    select.addEventListener("change", sync);
    sync();
  });

  // -- destructive forms ask first --------------------------------------------------------
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
    });
  });

  if (typeof uPlot === "undefined") return;

  // -- overview: growth per day, one line per platform, a tab per metric -----------------
  var overview = readJson("overview-data");
  var overviewEl = document.getElementById("overview-chart");
  if (overview && overviewEl) {
    var xs = overview.days.map(function (day) {
      var p = day.split("-");
      return Date.UTC(+p[0], +p[1] - 1, +p[2]) / 1000;
    });
    var plot = null;
    var show = function (metric) {
      var series = [{ label: "Day", value: function (u, v) { return v == null ? "" : new Date(v * 1000).toISOString().slice(0, 10); } }];
      var data = [xs];
      overview.platforms.forEach(function (platform) {
        series.push({ label: platform, stroke: COLORS[platform] || "#555", width: 2, points: { size: 5 }, value: function (u, v) { return fmt(v); } });
        data.push(overview.values[metric][platform]);
      });
      series.push({ label: "All", stroke: COLORS.all, width: 1.5, dash: [6, 4], value: function (u, v) { return fmt(v); } });
      data.push(overview.totals[metric]);
      if (plot) plot.destroy();
      overviewEl.textContent = "";
      var estimatedDays = xs.filter(function (x, i) { return overview.estimated && overview.estimated[i]; })
        .map(function (x) { return [x - 43200, x + 43200]; });
      plot = mount(overviewEl, {
        title: metric.charAt(0).toUpperCase() + metric.slice(1) + " gained per day",
        hooks: { drawClear: [shade(estimatedDays, ESTIMATED_SHADE)] },
        tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"); },
        scales: { x: { time: true } },
        series: series,
        axes: [{}, { size: 70, values: function (u, vals) { return vals.map(fmt); } }]
      }, data);
      overviewEl.setAttribute("data-metric", metric);
      document.querySelectorAll("[data-chart-metric]").forEach(function (button) {
        button.setAttribute("aria-pressed", String(button.getAttribute("data-chart-metric") === metric));
      });
      document.querySelectorAll("[data-table-metric]").forEach(function (wrap) {
        wrap.hidden = wrap.getAttribute("data-table-metric") !== metric;
      });
    };
    document.querySelectorAll("[data-chart-metric]").forEach(function (button) {
      button.addEventListener("click", function () { show(button.getAttribute("data-chart-metric")); });
    });
    show(overview.metrics[0]);
  }

  // -- post detail: per target, cumulative readings and change between readings ---------
  var post = readJson("post-data");
  if (post) {
    post.targets.forEach(function (target) {
      var xs = target.times.map(function (t) { return Date.parse(t) / 1000; });
      var tzDate = function (ts) { return uPlot.tzDate(new Date(ts * 1000), post.timezone); };
      ["cumulative", "change"].forEach(function (kind) {
        var el = document.querySelector('[data-chart="' + kind + '"][data-target="' + target.id + '"]');
        if (!el) return;
        var source = kind === "cumulative" ? target.values : target.changes;
        var series = [{ label: "Read at" }];
        var data = [xs];
        var hasBig = source.impressions.some(function (v) { return v != null; });
        target.metrics.forEach(function (metric) {
          if (metric === "impressions" && !hasBig) return;
          series.push({
            label: metric, stroke: COLORS[metric], width: 2, points: { size: 5 },
            scale: metric === "impressions" ? "big" : "small",
            value: function (u, v) { return fmt(v); }
          });
          data.push(source[metric]);
        });
        var axes = [{}, { scale: "small", label: "likes · comments · shares", size: 60, values: function (u, vals) { return vals.map(fmt); } }];
        if (hasBig) axes.push({ scale: "big", label: "impressions", side: 1, size: 70, grid: { show: false }, values: function (u, vals) { return vals.map(fmt); } });
        var caption = el.querySelector("figcaption");
        var provisional = [];
        if (target.provisional_until && target.provisional && target.provisional.indexOf(true) >= 0) {
          provisional.push([xs[0], Date.parse(target.provisional_until) / 1000]);
        }
        mount(el, {
          tzDate: tzDate, scales: { x: { time: true } }, series: series, axes: axes,
          hooks: { drawClear: [shade(provisional, PROVISIONAL_SHADE)] }
        }, data);
        if (caption) el.insertBefore(caption, el.firstChild);
      });
    });
  }
})();
