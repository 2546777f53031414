// The model page's charts: one Plotly chart per metric, drawn from the page's JSON payload
// (runs listed once; each series' values aligned to them). Charts are drawn when they come
// into view, so a page of twenty metrics over a thousand versions opens at once.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("chart-data").textContent);
  const runs = data.runs;

  // Plotly reads a subset of HTML in every text it draws (<a href>, <b>, <br> ...) and decodes
  // &lt; &gt; &amp;: labels come from CI, so each one reaches Plotly with < > & written as
  // entities and shows literally. The payload keeps the raw labels (the tables below the
  // charts show them through Django's escaping); only what is handed to Plotly goes through here.
  function plain(text) {
    return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  const x = runs.version.map(plain); // the category axis: ticks, hover
  // Okabe-Ito: distinguishable with every common colour-vision deficiency.
  const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"];
  const BAD = "#D55E00";
  const MANY = 300; // beyond this many points, lines without markers stay readable
  // Plotly's toolbar shows in the top right corner while the pointer is over a chart: the top
  // margin keeps a row of this height for it above the legend, so that it never covers it.
  const TOOLBAR = 30;
  const firstIndex = new Map();
  runs.version.forEach((label, i) => { if (!firstIndex.has(label)) firstIndex.set(label, i); });

  function indexOf(version) {
    return firstIndex.has(version) ? firstIndex.get(version) : -1;
  }

  function fmt(v) {
    return v === null || v === undefined ? "—" : Number(v.toPrecision(6)).toString();
  }

  // With another line drawn beneath (data.over: the main line under a pull request's branch,
  // production under offline), each line is named in the legend and hover by what tells it
  // from the other: its branch, its environment, or both.
  function lineName(line, other) {
    const parts = [];
    if (line.branch !== other.branch) parts.push(line.branch);
    if (line.environment !== other.environment) parts.push(line.environment);
    return parts.join(", ");
  }
  const LINES = data.over ? {shown: lineName(data.line, data.over), over: lineName(data.over, data.line)} : null;
  // The shown line's points over the reference: a soft colour (one chart) or the slice's own
  // colour, faded (every slice), with diamonds, so that the reference stays the line to read
  // against and each point still says whose it is.
  const MUTED = "#CC79A7";

  // A replicate set's point: the mean of its seeds, with their standard deviation.
  function seedsText(series, i) {
    const k = series.replicates ? series.replicates[i] : null;
    return k && k > 1 ? " (mean of " + k + " seeds ± " + fmt(series.sd[i]) + ")" : "";
  }

  // ``line``: how the values are drawn with another line beneath (null without one):
  // {name, role ("value" the line shown, "over" the reference), muted}.
  function valueTrace(metric, series, colour, named, line) {
    const custom = series.value.map((v, i) => [
      plain(runs.commit[i] || "—"), runs.at[i], series.n && series.n[i] !== null ? series.n[i] : "—",
      runs.run_id[i], plain(runs.branch[i]), seedsText(series, i),
    ]);
    const label = line ? (named ? series.slice + " · " : "") + line.name : named ? series.slice : metric.name;
    const trace = {
      type: "scatter",
      mode: series.value.length > MANY ? "lines" : "lines+markers",
      name: plain(label),
      meta: {role: line ? line.role : "value", slice: series.slice},
      x: x,
      y: series.value,
      customdata: custom,
      connectgaps: true,
      line: {color: colour, width: 1.8},
      marker: {size: 5, color: colour},
      hovertemplate:
        "<b>%{x}</b> " + (line || named ? plain(label) + " " : "") + "%{y}%{customdata[5]}" +
        (line ? "<br>on %{customdata[4]}" : "") +
        "<br>commit %{customdata[0]}<br>run at %{customdata[1]} UTC<br>n = %{customdata[2]}" +
        "<br><i>click to open run %{customdata[3]}</i><extra></extra>",
    };
    if (line && line.muted) {
      trace.mode = "lines+markers";
      trace.opacity = named ? 0.7 : 1;
      trace.line = {color: colour, width: 1.5, dash: "dot"};
      trace.marker = {size: 8, color: colour, symbol: "diamond", line: {color: "#fff", width: 1}};
    }
    if (series.ci_low && series.ci_high) {
      trace.error_y = {
        type: "data", symmetric: false, color: colour, thickness: 1, width: 0,
        array: series.value.map((v, i) => (v === null || series.ci_high[i] === null ? null : series.ci_high[i] - v)),
        arrayminus: series.value.map((v, i) => (v === null || series.ci_low[i] === null ? null : v - series.ci_low[i])),
      };
    }
    return trace;
  }

  function baselineTrace(series, colour, named) {
    const b = series.baseline;
    return {
      type: "scatter", mode: "lines", x: [x[0], x[x.length - 1]], y: [b.value, b.value],
      name: plain("baseline " + b.version + (named ? " (" + series.slice + ")" : "")),
      meta: {role: "baseline"},
      line: {color: colour, width: 1.5, dash: "dash"},
      hovertemplate: plain("baseline " + b.version + ": " + fmt(b.value)) + "<extra></extra>",
    };
  }

  // A limit belongs to one slice when its rule names the slice, or when it is a drop from
  // that slice's own baseline; a floor or ceiling of a rule for every slice is shared.
  function ownedBySlice(limit) {
    return limit.slice !== "" || limit.kind.startsWith("max_drop");
  }

  function thresholdTraces(metric, series, values, owner) {
    // The failing side of each limit as a shaded band, from the limit outwards. In a chart of
    // every slice, a slice's own limit is named after it and outlined in its colour.
    const finite = values.filter((v) => v !== null);
    const span = finite.length ? Math.max(...finite) - Math.min(...finite) : 0;
    const pad = span > 0 ? span * 0.25 : Math.abs(series.thresholds[0].value) * 0.05 || 1;
    return series.thresholds.map((limit) => {
      const lowerBound = limit.kind === "max" ? false : limit.kind === "min" ? true : metric.direction !== "lower_is_better";
      const outer = lowerBound ? limit.value - pad : limit.value + pad;
      const x0 = x[0], x1 = x[x.length - 1];
      const own = owner && ownedBySlice(limit);
      return {
        type: "scatter", mode: "lines", fill: "toself", x: [x0, x1, x1, x0, x0],
        y: [limit.value, limit.value, outer, outer, limit.value],
        // A drop's rule and where it puts the limit: "max drop 0.01 (0.920471)".
        name: plain("threshold " + limit.rule + (limit.kind.startsWith("max_drop") ? " (" + fmt(limit.value) + ")" : "") +
          (own ? " (" + series.slice + ")" : "")),
        meta: {role: "threshold", slice: own ? series.slice : null},
        line: {color: own ? owner.colour : BAD, width: own ? 1.5 : 1, dash: "dot"}, fillcolor: "rgba(213,94,0,0.10)",
        hovertemplate: plain((own ? series.slice + " " : "") + (lowerBound ? "fails below " : "fails above ") + fmt(limit.value)) +
          "<extra></extra>",
      };
    });
  }

  function trendTrace(series) {
    const t = series.trend;
    const active = series.findings.some((f) => f.kind === "drift" && (f.status === "open" || f.status === "acknowledged"));
    if (!t || !active || indexOf(t.start_version) < 0 || indexOf(t.end_version) < 0) return null;
    return {
      type: "scatter", mode: "lines", x: [x[indexOf(t.start_version)], x[indexOf(t.end_version)]],
      y: [t.start_value, t.end_value],
      name: "fitted trend", meta: {role: "trend"},
      line: {color: BAD, width: 2.5, dash: "dashdot"},
      hovertemplate: "fitted trend: " + fmt(t.slope) + " per version<extra></extra>",
    };
  }

  function changeTrace(series) {
    const points = series.findings
      .map((f) => ({f: f, i: indexOf(f.start_version)}))
      .filter((p) => p.i >= 0 && series.value[p.i] !== null);
    if (!points.length) return null;
    return {
      type: "scatter", mode: "markers", name: "detected change", meta: {role: "change"},
      x: points.map((p) => x[p.i]), y: points.map((p) => series.value[p.i]),
      customdata: points.map((p) => [p.f.url, plain(p.f.kind), plain(p.f.status)]),
      text: points.map((p) => plain(p.f.message)),
      marker: {symbol: "triangle-down", size: 13, color: BAD, line: {color: "#000", width: 1}},
      hovertemplate: "<b>%{customdata[1]}</b> (%{customdata[2]})<br>%{text}<br><i>click to open the finding</i><extra></extra>",
    };
  }

  // Regressions people marked as missed: a star at the marked version's value.
  function missedTrace(series) {
    const points = (series.missed || [])
      .map((m) => ({m: m, i: indexOf(m.version)}))
      .filter((p) => p.i >= 0 && series.value[p.i] !== null);
    if (!points.length) return null;
    return {
      type: "scatter", mode: "markers", name: "marked as missed", meta: {role: "missed"},
      x: points.map((p) => x[p.i]), y: points.map((p) => series.value[p.i]),
      text: points.map((p) => plain(p.m.note)),
      marker: {symbol: "star", size: 14, color: "#CC79A7", line: {color: "#000", width: 1}},
      hovertemplate: "<b>marked as missed</b><br>%{text}<extra></extra>",
    };
  }

  function markShapes() {
    const shapes = [], annotations = [];
    data.marks.forEach((mark) => {
      const i = indexOf(mark.version);
      if (i < 0) return;
      shapes.push({type: "line", xref: "x", yref: "paper", x0: x[i], x1: x[i], y0: 0, y1: 1,
        line: {color: "#59636e", width: 1, dash: "dot"}});
      annotations.push({xref: "x", yref: "paper", x: x[i], y: 1, yanchor: "bottom", showarrow: false,
        text: "intended change", hovertext: plain(mark.note), font: {size: 11, color: "#59636e"}});
    });
    return {shapes: shapes, annotations: annotations};
  }

  function draw(element, metric) {
    const named = metric.series.length > 1;
    const traces = [];
    const limitsDrawn = new Set();
    metric.series.forEach((series, k) => {
      const colour = named ? PALETTE[k % PALETTE.length] : PALETTE[0];
      const own = [];
      if (LINES && series.over) {
        // The reference first, in the usual style; the shown line's points on top of it.
        own.push(valueTrace(metric, {...series.over, slice: series.slice}, colour, named,
          {name: LINES.over, role: "over"}));
        own.push(valueTrace(metric, series, named ? colour : MUTED, named,
          {name: LINES.shown, role: "value", muted: true}));
      } else {
        own.push(valueTrace(metric, series, colour, named, LINES && {name: LINES.shown, role: "value"}));
      }
      if (series.baseline) own.push(baselineTrace(series, named ? colour : "#000000", named));
      // A limit shared by every slice is drawn once; a slice's own limits are drawn with it.
      const key = (limit) => limit.kind + limit.value + (named && ownedBySlice(limit) ? "|" + series.slice : "");
      const limits = series.thresholds.filter((limit) => !limitsDrawn.has(key(limit)));
      limits.forEach((limit) => limitsDrawn.add(key(limit)));
      if (limits.length) {
        // A band reaches as far as the chart's values do, whichever slice they are on.
        const values = metric.series.flatMap((s) => (s.over ? s.value.concat(s.over.value) : s.value));
        own.push(...thresholdTraces(metric, {...series, thresholds: limits}, values, named ? {colour: colour} : null));
      }
      const trend = trendTrace(series);
      if (trend) own.push(trend);
      const changes = changeTrace(series);
      if (changes) own.push(changes);
      const missed = missedTrace(series);
      if (missed) own.push(missed);
      own.forEach((trace, i) => {
        const shared = trace.meta.role === "threshold" && !trace.meta.slice;
        if (named && !shared) {
          // One legend entry per slice (clicking it hides the slice with its lines), and one
          // per limit of its own, so that a band says whose it is.
          trace.legendgroup = series.slice;
          trace.showlegend = ["value", "over", "change", "threshold", "missed"].includes(trace.meta.role);
        }
        traces.push(trace);
      });
    });
    const marks = markShapes();
    const legendRows = Math.ceil(traces.filter((t) => t.showlegend !== false).length / 3);
    const layout = {
      height: 300 + TOOLBAR + 20 * Math.max(0, legendRows - 1),
      margin: {l: 60, r: 20, t: TOOLBAR + 12 + 20 * legendRows, b: 60},
      font: {family: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", size: 12, color: "#1f2328"},
      xaxis: {type: "category", nticks: 12, tickangle: -30, automargin: true},
      yaxis: {title: {text: plain(metric.unit || metric.name)}, automargin: true, zeroline: false},
      legend: {orientation: "h", yanchor: "bottom", y: 1.02, x: 0},
      hovermode: "closest", shapes: marks.shapes, annotations: marks.annotations,
      plot_bgcolor: "#fff", paper_bgcolor: "#fff",
    };
    const drawn = Plotly.newPlot(element, traces, layout, {responsive: true, displaylogo: false,
      modeBarButtonsToRemove: ["select2d", "lasso2d"]});
    element.on("plotly_click", (event) => {
      const point = event.points[0];
      const role = point.data.meta && point.data.meta.role;
      if (role === "change") window.location = point.customdata[0];
      else if (role === "value" || role === "over") window.location = runs.url.replace("{id}", point.customdata[3]);
    });
    drawn.then(() => fitLegend(element, layout)).then(() => { element.dataset.drawn = "true"; });
  }

  // The legend wraps as its names and the chart's width decide, which the layout cannot know
  // beforehand: once drawn, the top margin is made the legend's height plus the toolbar's
  // (measured: it is laid out even while hidden).
  function fitLegend(element, layout) {
    const legend = element.querySelector("g.legend");
    if (!legend) return null;
    const toolbar = element.querySelector(".modebar");
    const toolbarHeight = toolbar ? toolbar.getBoundingClientRect().height : TOOLBAR;
    const needed = Math.ceil(toolbarHeight + legend.getBoundingClientRect().height + 12);
    if (needed === layout.margin.t) return null;
    return Plotly.relayout(element, {"margin.t": needed, height: layout.height + needed - layout.margin.t});
  }

  const elements = document.querySelectorAll(".chart[data-metric]");
  const drawOne = (element) => {
    if (!element.dataset.drawn) draw(element, data.metrics[Number(element.dataset.metric)]);
  };
  if ("IntersectionObserver" in window) {
    const observer = new IntersectionObserver((entries) => {
      entries.forEach((entry) => {
        if (entry.isIntersecting) { drawOne(entry.target); observer.unobserve(entry.target); }
      });
    }, {rootMargin: "400px"});
    elements.forEach((element) => observer.observe(element));
  } else {
    elements.forEach(drawOne);
  }

  // Selectors change the URL (shareable), without the no-script form's combined field.
  const form = document.getElementById("selectors");
  if (form) {
    form.addEventListener("change", (event) => {
      const option = document.getElementById("dataset-select").selectedOptions[0];
      const params = new URLSearchParams();
      const branch = form.elements.branch.value; // "" for the default branch
      const newBranch = event.target === form.elements.branch;
      params.set("dataset", option.dataset.name);
      // Another line may have the dataset at another version: its latest is shown.
      const newLine = newBranch || event.target === form.elements.environment;
      if (option.dataset.version && !newLine) params.set("dataset_version", option.dataset.version);
      const slice = document.getElementById("slice-select").value;
      if (slice && slice !== "overall") params.set("slice", slice);
      const last = form.elements.last.value;
      if (last) params.set("last", last);
      if (branch) params.set("branch", branch);
      if (form.elements.environment.value) params.set("environment", form.elements.environment.value);
      // A branch other than the default is drawn over it, unless that was unticked.
      const over = form.elements.over;
      if (branch && (newBranch || (over && over.checked))) params.set("over", form.dataset.defaultBranch);
      if (form.elements.over_environment.value) params.set("over_environment", form.elements.over_environment.value);
      window.location.search = params.toString();
    });
    const submit = form.querySelector("button[type=submit]");
    if (submit) submit.hidden = true;
  }
})();
