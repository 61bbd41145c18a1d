// The campaign analysis charts: the funnel and the day-by-day series, drawn with the
// vendored ECharts from the figures the page embeds (#analysis-chart-data, written by
// json_script). The tables below the charts carry the same figures, so the page reads
// right without this file. SVG rendering keeps the charts sharp when printed.
(function () {
  "use strict";

  function data() {
    var node = document.getElementById("analysis-chart-data");
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

  function drawFunnel(funnel) {
    var instance = chart("chart-funnel");
    if (!instance) { return null; }
    instance.setOption({
      animation: false,
      tooltip: { trigger: "item", formatter: "{b}: {c}" },
      series: [{
        type: "funnel",
        sort: "none",
        minSize: "8%",
        left: "5%",
        width: "90%",
        label: { show: true, position: "inside", formatter: "{b}: {c}" },
        data: funnel.labels.map(function (label, index) {
          return { name: label, value: funnel.values[index] };
        })
      }]
    });
    return instance;
  }

  function drawDaily(daily) {
    var instance = chart("chart-daily");
    if (!instance) { return null; }
    instance.setOption({
      animation: false,
      tooltip: { trigger: "axis" },
      legend: { type: "scroll", top: 0 },
      grid: { left: 48, right: 64, top: 64, bottom: 32 },
      xAxis: { type: "category", data: daily.days },
      yAxis: [
        { type: "value", name: daily.countAxis, minInterval: 1 },
        { type: "value", name: daily.moneyAxis, splitLine: { show: false } }
      ],
      series: daily.series.map(function (serie) {
        var money = serie.axis === "money";
        return {
          name: serie.name,
          type: money ? "line" : "bar",
          yAxisIndex: money ? 1 : 0,
          data: serie.data,
          smooth: false
        };
      })
    });
    return instance;
  }

  function init() {
    var figures = data();
    if (!figures) { return; }
    var charts = [drawFunnel(figures.funnel), drawDaily(figures.daily)].filter(Boolean);
    window.addEventListener("resize", function () {
      charts.forEach(function (instance) { instance.resize(); });
    });
    // Print at the page's width, not the screen's.
    window.addEventListener("beforeprint", function () {
      charts.forEach(function (instance) { instance.resize(); });
    });
    document.querySelectorAll("[data-analysis-print]").forEach(function (button) {
      button.addEventListener("click", function () { window.print(); });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
