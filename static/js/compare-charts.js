// The comparison charts: funnel shares, new participants by day of the campaign,
// uplift with its 95 % interval and retention, one series per campaign, drawn with
// the vendored ECharts from the figures the page embeds (#compare-chart-data, written
// by json_script). The tables carry the same figures, so the page reads right
// without this file. SVG rendering keeps the charts sharp when printed.
(function () {
  "use strict";

  function data() {
    var node = document.getElementById("compare-chart-data");
    if (!node) { return null; }
    try { return JSON.parse(node.textContent); } catch (error) { return null; }
  }

  function chart(id) {
    var box = document.getElementById(id);
    if (!box || !window.echarts) { return null; }
    var existing = window.echarts.getInstanceByDom(box);
    if (existing) { existing.dispose(); }
    return window.echarts.init(box, null, { renderer: "svg" });
  }

  function percent(value) {
    return value === null || value === undefined ? "—" : value.toFixed(1) + " %";
  }

  // One bar per campaign in each category (a funnel stage, a retention horizon).
  function groupedBars(id, categories, series, axis) {
    var instance = chart(id);
    if (!instance) { return null; }
    instance.setOption({
      animation: false,
      tooltip: { trigger: "axis", valueFormatter: percent },
      legend: { type: "scroll", top: 0 },
      grid: { left: 56, right: 16, top: 48, bottom: 32 },
      xAxis: { type: "category", data: categories },
      yAxis: { type: "value", name: axis, min: 0, max: 100 },
      series: series.map(function (serie) {
        return { name: serie.name, type: "bar", data: serie.data };
      })
    });
    return instance;
  }

  function drawDaily(daily) {
    var instance = chart("chart-compare-daily");
    if (!instance) { return null; }
    instance.setOption({
      animation: false,
      tooltip: { trigger: "axis" },
      legend: { type: "scroll", top: 0 },
      grid: { left: 48, right: 16, top: 48, bottom: 48 },
      xAxis: { type: "category", data: daily.days, name: daily.dayAxis, nameLocation: "middle", nameGap: 28 },
      yAxis: { type: "value", name: daily.countAxis, minInterval: 1 },
      // A campaign's line stops at its last day (or today): null is no point, not zero.
      series: daily.series.map(function (serie) {
        return { name: serie.name, type: "line", data: serie.data, connectNulls: false, showSymbol: true };
      })
    });
    return instance;
  }

  // The interval as a box from its low to its high end (a candlestick whose open
  // is the low and close the high), the estimate as a point, zero as a line.
  function drawUplift(uplift) {
    var instance = chart("chart-compare-uplift");
    if (!instance) { return null; }
    instance.setOption({
      animation: false,
      tooltip: {
        trigger: "axis",
        formatter: function (items) {
          var index = items.length ? items[0].dataIndex : 0;
          var interval = uplift.intervals[index];
          if (!interval) { return uplift.names[index] + ": —"; }
          return uplift.names[index] + "<br>" + uplift.estimate + ": " + uplift.points[index].toFixed(1) +
            "<br>" + uplift.interval + ": " + interval[0].toFixed(1) + " … " + interval[1].toFixed(1);
        }
      },
      grid: { left: 56, right: 16, top: 32, bottom: 32 },
      xAxis: { type: "category", data: uplift.names },
      yAxis: { type: "value", name: uplift.axis, scale: true },
      series: [
        {
          name: uplift.interval,
          type: "candlestick",
          barMaxWidth: 24,
          // Neutral: the box is a range of plausible values, not a rise or a fall.
          itemStyle: { color: "#9ec5fe", color0: "#9ec5fe", borderColor: "#0d6efd", borderColor0: "#0d6efd" },
          data: uplift.intervals.map(function (interval) {
            return interval ? [interval[0], interval[1], interval[0], interval[1]] : "-";
          }),
          markLine: { symbol: "none", silent: true, data: [{ yAxis: 0 }], lineStyle: { type: "dashed" } }
        },
        {
          name: uplift.estimate,
          type: "scatter",
          symbolSize: 10,
          data: uplift.points.map(function (point) { return point === null ? "-" : point; })
        }
      ]
    });
    return instance;
  }

  function init() {
    var figures = data();
    if (!figures) { return; }
    var charts = [
      groupedBars("chart-compare-funnel", figures.funnel.stages, figures.funnel.series, figures.funnel.axis),
      drawDaily(figures.daily),
      drawUplift(figures.uplift),
      groupedBars("chart-compare-retention", figures.retention.days, figures.retention.series, figures.retention.axis)
    ].filter(Boolean);
    window.addEventListener("resize", function () {
      charts.forEach(function (instance) { instance.resize(); });
    });
    // Print at the page's width, not the screen's.
    window.addEventListener("beforeprint", function () {
      charts.forEach(function (instance) { instance.resize(); });
    });
    document.querySelectorAll("[data-compare-print]").forEach(function (button) {
      button.addEventListener("click", function () { window.print(); });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
