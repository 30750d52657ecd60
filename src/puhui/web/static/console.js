/* The operations console: draws the ECharts charts from the options the server embedded as JSON
   (<script type="application/json" id="chart-data">), one per element with data-chart="id", and
   keeps them sized to their box. No inline handlers; nothing here talks to the server. */
(function () {
  "use strict";

  function drawCharts() {
    var source = document.getElementById("chart-data");
    if (!source || typeof echarts === "undefined") {
      return;
    }
    var options = JSON.parse(source.textContent || "{}");
    var drawn = [];
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var option = options[el.getAttribute("data-chart")];
      if (!option) {
        return;
      }
      var chart = echarts.init(el, null, { renderer: "canvas" });
      chart.setOption(option);
      el.setAttribute("data-rendered", "true");
      drawn.push(chart);
    });
    var pending = null;
    window.addEventListener("resize", function () {
      if (pending) {
        window.clearTimeout(pending);
      }
      pending = window.setTimeout(function () {
        drawn.forEach(function (chart) { chart.resize(); });
      }, 100);
    });
  }

  /* A form that asks for a confirmation names it in data-confirm (htmx reads hx-confirm itself). */
  function confirmForms() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) {
          event.preventDefault();
        }
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { drawCharts(); confirmForms(); });
  } else {
    drawCharts();
    confirmForms();
  }
})();
