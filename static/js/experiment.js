// An experiment's charts: per metric, each version's cumulative value after every window with
// its interval as a band, and the decisions that changed something marked on the x axis.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("chart-data").textContent);
  var colours = ["#0072B2", "#CC79A7", "#009E73", "#E69F00", "#56B4E9", "#D55E00"];
  var marked = ["promote", "complete", "rollback", "safe_to_switch", "not_safe",
    "candidate_better", "control_better", "no_difference", "winner"];

  function draw(element, metric) {
    var traces = [];
    data.arms.forEach(function (label, index) {
      var series = metric.arms[label];
      var colour = colours[index % colours.length];
      if (!series.mean.some(function (v) { return v !== null; })) { return; }
      if (series.low.some(function (v) { return v !== null; })) {
        traces.push({x: data.at, y: series.high, mode: "lines", line: {width: 0},
          showlegend: false, hoverinfo: "skip"});
        traces.push({x: data.at, y: series.low, mode: "lines", line: {width: 0}, fill: "tonexty",
          fillcolor: colour + "26", showlegend: false, hoverinfo: "skip"});
      }
      traces.push({x: data.at, y: series.mean, mode: "lines+markers", name: label +
        (label === data.control ? " (control)" : ""), line: {color: colour},
        customdata: data.decisions, hovertemplate: "%{y:.4g}<br>%{customdata}<extra>" + label + "</extra>"});
    });
    var shapes = [], notes = [];
    if (metric.required !== null && metric.required !== undefined) {
      shapes.push({type: "line", xref: "paper", x0: 0, x1: 1, y0: metric.required,
        y1: metric.required, line: {dash: "dash", color: "#555"}});
      notes.push({xref: "paper", x: 0, xanchor: "left", y: metric.required, yanchor: "bottom",
        text: "required " + metric.required, showarrow: false, font: {size: 11}});
    }
    data.decisions.forEach(function (action, index) {
      if (marked.indexOf(action) < 0) { return; }
      shapes.push({type: "line", xref: "x", yref: "paper", x0: data.at[index], x1: data.at[index],
        y0: 0, y1: 1, line: {dash: "dot", color: action === "rollback" || action === "not_safe" ? "#D55E00" : "#555"}});
      notes.push({x: data.at[index], yref: "paper", y: 1, text: action, showarrow: false,
        yanchor: "bottom", font: {size: 11}});
    });
    Plotly.newPlot(element, traces, {
      margin: {t: 30, r: 10, b: 40, l: 60}, shapes: shapes, annotations: notes,
      legend: {orientation: "h", y: -0.2}, yaxis: {title: {text: metric.name}},
    }, {displaylogo: false, responsive: true}).then(function () {
      element.dataset.drawn = "true";
    });
  }

  document.querySelectorAll(".experiment-chart").forEach(function (element) {
    draw(element, data.metrics[Number(element.dataset.metric)]);
  });
})();
