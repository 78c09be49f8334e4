// OpenPost Analytics dashboard: progressive enhancement only. Every number is also in
// the page's tables; this file draws charts (uPlot) from the JSON embedded in the page,
// toggles the custom date inputs and asks before destructive forms. No inline handlers.
(function () {
  "use strict";

  // Metric colours for the post charts; platform colours come from the page's JSON (the
  // platform specs), with this grey for anything unknown.
  var COLORS = {
    all: "#888888", other: "#5b6473",
    impressions: "#2457c5", likes: "#c13584", comments: "#137a3a", shares: "#c77700"
  };
  var CHART_HEIGHT = 260;
  var SMALL_HEIGHT = 180;
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  var AXIS_FONT = "12px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";

  function readJson(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function fmt(value) {
    return value == null ? "\u2014" : value.toLocaleString("en-US");
  }

  // Axis labels stay short whatever the size: 950, 12.5k, 1.2M, 3B (never clipped).
  function compact(value) {
    if (value == null) return "";
    var size = Math.abs(value);
    var units = [[1e9, "B"], [1e6, "M"], [1e3, "k"]];
    for (var i = 0; i < units.length; i++) {
      if (size >= units[i][0]) {
        var text = (value / units[i][0]).toFixed(size >= units[i][0] * 100 ? 0 : 1);
        return text.replace(/\.0$/, "") + units[i][1];
      }
    }
    return String(Math.round(value * 100) / 100);
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

  // The widest label plus room for the ticks: an axis is always wide enough for its labels.
  var measurer = null;
  function axisSize(labels) {
    measurer = measurer || document.createElement("canvas").getContext("2d");
    measurer.font = AXIS_FONT;
    var widest = 0;
    (labels || []).forEach(function (label) {
      widest = Math.max(widest, measurer.measureText(label).width);
    });
    return Math.ceil(widest) + 18;
  }

  // A y axis with compact labels, recorded on the chart's element for tests and readers.
  function yAxis(el, extra, record) {
    var axis = {
      font: AXIS_FONT,
      values: function (u, vals) {
        var labels = vals.map(compact);
        el.setAttribute(record || "data-y-labels", labels.join("|"));
        return labels;
      },
      size: function (u, values) { return axisSize(values); }
    };
    for (var key in extra) axis[key] = extra[key];
    return axis;
  }

  function dayLabel(ts) {
    var d = new Date(ts * 1000);
    return d.getUTCDate() + " " + MONTHS[d.getUTCMonth()];
  }

  // The day axis: one tick per day (or every few days when they would crowd), labelled
  // with the date, never with a time of day.
  function dayAxis(el, xs) {
    return {
      font: AXIS_FONT,
      space: 48,
      splits: function (u) {
        var room = Math.max(1, Math.floor((u.bbox.width / (window.devicePixelRatio || 1)) / 48));
        var step = Math.max(1, Math.ceil(xs.length / room));
        return xs.filter(function (x, i) { return (xs.length - 1 - i) % step === 0; });
      },
      values: function (u, splits) {
        var labels = splits.map(dayLabel);
        el.setAttribute("data-x-labels", labels.join("|"));
        return labels;
      }
    };
  }

  // A legend shows a value only for the point under the cursor; with none it is blank
  // (an em dash there would read as "not reported").
  function legendValue(u, v, seriesIdx, idx) {
    return idx == null ? "" : fmt(v);
  }

  function widthOf(el) {
    return Math.max(200, el.clientWidth - 16);
  }

  function mount(el, opts, data, height) {
    height = height || CHART_HEIGHT;
    opts.width = widthOf(el);
    opts.height = height;
    var plot = new uPlot(opts, data, el);
    if (window.ResizeObserver) {
      new ResizeObserver(function () {
        if (plot.root.isConnected) plot.setSize({ width: widthOf(el), height: height });
      }).observe(el);
    }
    return plot;
  }

  // -- thumbnails: a preview that does not load is hidden, the text stays -----------------
  document.querySelectorAll("img.thumb").forEach(function (img) {
    function hide() { img.hidden = true; }
    img.addEventListener("error", hide);
    if (img.complete && img.naturalWidth === 0) hide();
  });

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

  // -- overview: growth per day, a tab per metric; one small chart per platform (each on
  // its own scale, so one platform's spike does not flatten the others) or all together -----
  var overview = readJson("overview-data");
  var overviewEl = document.getElementById("overview-chart");
  if (overview && overviewEl) {
    var xs = overview.days.map(function (day) {
      var p = day.split("-");
      return Date.UTC(+p[0], +p[1] - 1, +p[2]) / 1000;
    });
    var labelOf = function (platform) { return (overview.labels || {})[platform] || platform; };
    var colourOf = function (platform) { return (overview.colours || {})[platform] || COLORS.other; };
    var reports = function (values) { return (values || []).some(function (v) { return v != null; }); };
    var dayValue = function (u, v, si, idx) { return idx == null || v == null ? "" : dayLabel(v); };
    var layout = overview.platforms.length > 1 ? "split" : "together";
    var metric = overview.default_metric || overview.metrics[0];
    var title = function (m) { return m.charAt(0).toUpperCase() + m.slice(1) + " gained per day"; };

    var figure = function (heading, platform) {
      var fig = document.createElement("figure");
      fig.className = "chart";
      if (platform) fig.setAttribute("data-platform", platform);
      var caption = document.createElement("figcaption");
      caption.className = "chart-title";
      caption.textContent = heading;
      fig.appendChild(caption);
      overviewEl.appendChild(fig);
      return fig;
    };
    var note = function (fig, text) {
      var p = document.createElement("p");
      p.className = "empty";
      p.textContent = text;
      fig.appendChild(p);
      fig.classList.add("no-data");
    };

    var draw = function () {
      overviewEl.textContent = "";
      var dayShade = function (flags) {
        var ranges = xs.filter(function (x, i) { return flags && flags[i]; })
          .map(function (x) { return [x - 43200, x + 43200]; });
        return { drawClear: [shade(ranges, ESTIMATED_SHADE)] };
      };
      overviewEl.className = "chart-grid" + (layout === "split" ? " split" : "");
      overviewEl.setAttribute("data-metric", metric);
      overviewEl.setAttribute("data-layout", layout);
      var reported = overview.reported.indexOf(metric) >= 0;
      if (!reported) {
        note(figure(title(metric)), "No account in this selection reports " + metric + ".");
      } else if (layout === "together") {
        var only = overview.platforms.length === 1 ? labelOf(overview.platforms[0]) : "all platforms";
        var fig = figure(title(metric) + ", " + only);
        var series = [{ label: "Day", value: dayValue }];
        var data = [xs];
        overview.platforms.forEach(function (platform) {
          if (!reports(overview.values[metric][platform])) return;
          series.push({ label: labelOf(platform), stroke: colourOf(platform), width: 2, points: { size: 5 }, value: legendValue });
          data.push(overview.values[metric][platform]);
        });
        series.push({ label: "All", stroke: COLORS.all, width: 1.5, dash: [6, 4], value: legendValue });
        data.push(overview.totals[metric]);
        mount(fig, { scales: { x: { time: false } }, series: series, axes: [dayAxis(fig, xs), yAxis(fig)], hooks: dayShade(overview.estimated) }, data);
      } else {
        var silent = [];
        overview.platforms.forEach(function (platform) {
          var values = overview.values[metric][platform];
          if (!reports(values)) {
            silent.push(labelOf(platform));
            return;
          }
          var fig = figure(labelOf(platform) + " (own scale)", platform);
          mount(fig, {
            scales: { x: { time: false } },
            legend: { show: false },
            hooks: dayShade(overview.estimated_by_platform && overview.estimated_by_platform[platform]),
            series: [{ label: "Day", value: dayValue }, { label: labelOf(platform), stroke: colourOf(platform), fill: colourOf(platform) + "22", width: 2, points: { size: 4 }, value: legendValue }],
            axes: [dayAxis(fig, xs), yAxis(fig)]
          }, [xs, values], SMALL_HEIGHT);
        });
        if (silent.length) {
          var p = document.createElement("p");
          p.className = "hint chart-note";
          p.setAttribute("data-unreported-platforms", silent.join("|"));
          p.textContent = silent.join(", ") + (silent.length > 1 ? " do" : " does") + " not report " + metric + ": no chart.";
          overviewEl.appendChild(p);
        }
      }
      document.querySelectorAll("[data-chart-metric]").forEach(function (button) {
        button.setAttribute("aria-pressed", String(button.getAttribute("data-chart-metric") === metric));
      });
      document.querySelectorAll("[data-chart-layout]").forEach(function (button) {
        button.setAttribute("aria-pressed", String(button.getAttribute("data-chart-layout") === layout));
      });
      document.querySelectorAll("[data-table-metric]").forEach(function (wrap) {
        wrap.hidden = wrap.getAttribute("data-table-metric") !== metric;
      });
    };
    document.querySelectorAll("[data-chart-metric]").forEach(function (button) {
      button.addEventListener("click", function () { metric = button.getAttribute("data-chart-metric"); draw(); });
    });
    document.querySelectorAll("[data-chart-layout]").forEach(function (button) {
      button.addEventListener("click", function () { layout = button.getAttribute("data-chart-layout"); draw(); });
    });
    var layouts = document.querySelector("[data-chart-layouts]");
    if (layouts && overview.platforms.length > 1) layouts.hidden = false;
    draw();
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
        var series = [{ label: "Read at", value: function (u, v, si, idx) { return idx == null ? "" : uPlot.fmtDate("{YYYY}-{MM}-{DD} {HH}:{mm}")(tzDate(v)); } }];
        var data = [xs];
        var hasBig = source.impressions.some(function (v) { return v != null; });
        target.metrics.forEach(function (metric) {
          if (metric === "impressions" && !hasBig) return;
          series.push({
            label: metric, stroke: COLORS[metric], width: 2, points: { size: 5 },
            scale: metric === "impressions" ? "big" : "small",
            value: legendValue
          });
          data.push(source[metric]);
        });
        var axes = [{ font: AXIS_FONT }, yAxis(el, { scale: "small", label: "likes · comments · shares" })];
        if (hasBig) axes.push(yAxis(el, { scale: "big", label: "impressions", side: 1, grid: { show: false } }, "data-y2-labels"));
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
