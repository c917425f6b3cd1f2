// Charts of a pivot with Apache ECharts, imported piece by piece so the bundle holds only these.
import { BarChart, LineChart, PieChart, TreemapChart } from "echarts/charts";
import { GridComponent, LegendComponent, TooltipComponent } from "echarts/components";
import * as echarts from "echarts/core";
import { CanvasRenderer, SVGRenderer } from "echarts/renderers";
import type { Chart } from "./state";
import { type Pivot, columnTitle } from "./pivot";

echarts.use([BarChart, LineChart, PieChart, TreemapChart, GridComponent, LegendComponent, TooltipComponent, CanvasRenderer, SVGRenderer]);

/** The chart draws at most this many categories; the table has them all. */
export const CHART_LIMIT = 200;

export type ChartOption = echarts.EChartsCoreOption;

/** The chart of one metric of a pivot: rows as categories, column groups as series. */
export function chartOption(p: Pivot, kind: Chart, metric: string): { option: ChartOption; truncated: boolean } {
  const columns = p.columns.map((c, i) => ({ c, i })).filter(({ c }) => c.metric === metric);
  const rows = p.rows.slice(0, CHART_LIMIT);
  const truncated = p.rows.length > CHART_LIMIT;
  const category = (labels: string[]): string => (labels.length ? labels.join(" · ") : "all");
  const name = (i: number): string => columnTitle(p.columns[i]!, p.colDims, 1);
  if (kind === "pie" || kind === "treemap") {
    const data = rows.flatMap((r) =>
      columns
        .filter(({ i }) => r.cells[i] !== null && (r.cells[i] as number) > 0)
        .map(({ i }) => ({
          name: [category(r.labels), p.colDims.length ? name(i) : ""].filter(Boolean).join(" · "),
          value: r.cells[i] as number,
        })),
    );
    const series =
      kind === "pie"
        ? { type: "pie", radius: ["30%", "70%"], data, label: { show: data.length <= 30 } }
        : { type: "treemap", data, roam: false, nodeClick: false, breadcrumb: { show: false } };
    return { option: { animation: false, tooltip: { trigger: "item" }, series: [series] }, truncated };
  }
  const series = columns.map(({ c, i }) => ({
    name: p.colDims.length ? columnTitle(c, p.colDims, 1) : metric,
    type: kind,
    stack: kind === "bar" ? "total" : undefined,
    data: rows.map((r) => r.cells[i]),
    showSymbol: kind === "line" ? rows.length < 60 : undefined,
  }));
  return {
    option: {
      animation: false,
      tooltip: { trigger: "axis" },
      legend: { type: "scroll", bottom: 0 },
      grid: { left: 8, right: 16, top: 32, bottom: 32, containLabel: true },
      xAxis: { type: "category", data: rows.map((r) => category(r.labels)) },
      yAxis: { type: "value", name: metric.replace(/_/g, " "), nameTextStyle: { align: "left" } },
      series,
    },
    truncated,
  };
}

export interface Drawn {
  chart: echarts.ECharts;
  option: ChartOption;
}

export function draw(el: HTMLElement, option: ChartOption, previous?: Drawn): Drawn {
  const chart = previous?.chart && !previous.chart.isDisposed() ? previous.chart : echarts.init(el, null, { renderer: "canvas" });
  chart.setOption(option, { notMerge: true });
  return { chart, option };
}

/** PNG of the chart as shown (its canvas). */
export function pngUrl(drawn: Drawn): string {
  return drawn.chart.getDataURL({ type: "png", pixelRatio: 2, backgroundColor: "#fff" });
}

/** SVG of the chart, drawn again by ECharts' SVG renderer at the same size. */
export function svgText(drawn: Drawn, width: number, height: number): string {
  const chart = echarts.init(null, null, { renderer: "svg", ssr: true, width, height });
  chart.setOption({ ...drawn.option, backgroundColor: "#fff" });
  const svg = chart.renderToSVGString();
  chart.dispose();
  return svg;
}
