"""The inline stylesheet every report page shares: typography, contents, chart classes, print."""

CSS = """
:root {
  --ink: #1f2937; --muted: #6b7280; --line: #e5e7eb; --paper: #ffffff; --wash: #f7f8fa;
  --accent: #4c78a8; --ok: #2f7d4f; --ok-bg: #e6f4ea; --warn: #9a6700; --warn-bg: #fff4d6;
  --bad: #b42318; --bad-bg: #fde8e7; --info-bg: #eef3f9;
}
* { box-sizing: border-box; }
html { scroll-behavior: smooth; }
body {
  margin: 0; color: var(--ink); background: var(--wash);
  font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
    "Liberation Sans", "DejaVu Sans", sans-serif;
}
.layout { display: grid; grid-template-columns: 200px minmax(0, 1fr); gap: 28px;
  max-width: 1280px; margin: 0 auto; padding: 24px 24px 64px; }
nav.toc { position: sticky; top: 16px; align-self: start; font-size: 13px;
  max-height: calc(100vh - 32px); overflow-y: auto; }
nav.toc strong { display: block; font-size: 11px; letter-spacing: .06em; text-transform: uppercase;
  color: var(--muted); margin: 4px 0 8px; }
nav.toc ol { list-style: none; margin: 0; padding: 0; border-left: 2px solid var(--line); }
nav.toc a { display: block; padding: 3px 10px; color: var(--ink); text-decoration: none;
  margin-left: -2px; border-left: 2px solid transparent; }
nav.toc a:hover { color: var(--accent); border-left-color: var(--accent); }
main { min-width: 0; }
header.top { background: var(--paper); border: 1px solid var(--line); border-radius: 10px;
  padding: 18px 22px; margin-bottom: 20px; }
header.top h1 { margin: 0 0 4px; font-size: 22px; line-height: 1.3; overflow-wrap: anywhere; }
header.top .kind { color: var(--muted); font-size: 12px; text-transform: uppercase;
  letter-spacing: .06em; }
dl.facts { display: flex; flex-wrap: wrap; gap: 6px 28px; margin: 12px 0 0; }
dl.facts div { min-width: 0; }
dl.facts dt { font-size: 11px; color: var(--muted); text-transform: uppercase; letter-spacing: .05em; }
dl.facts dd { margin: 0; font-weight: 600; overflow-wrap: anywhere; }
section { background: var(--paper); border: 1px solid var(--line); border-radius: 10px;
  padding: 16px 22px 20px; margin-bottom: 20px; scroll-margin-top: 12px; }
section > h2 { font-size: 17px; margin: 0 0 4px; }
section > p.lead { margin: 0 0 14px; color: var(--muted); font-size: 13px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(160px, 1fr)); gap: 12px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; background: var(--wash); }
.card .name { font-size: 12px; color: var(--muted); }
.card .value { font-size: 24px; font-weight: 650; font-variant-numeric: tabular-nums; line-height: 1.25; }
.card .ci, .card .hint { font-size: 11.5px; color: var(--muted); }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 13px; font-variant-numeric: tabular-nums; }
th, td { padding: 6px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { font-size: 12px; color: var(--muted); font-weight: 600; background: var(--wash); white-space: nowrap; }
table.compact th, table.compact td { padding: 6px 7px; }
td.num, th.num { text-align: right; white-space: nowrap; }
.meter { display: inline-block; width: 56px; height: 6px; margin-right: 10px; vertical-align: middle;
  border-radius: 3px; background: linear-gradient(90deg, var(--accent) var(--v), #e3e8ef var(--v)); }
tr.ref td { background: var(--info-bg); }
tr.flagged td:first-child { box-shadow: inset 3px 0 0 var(--bad); }
td code, p code { font-size: 12px; color: var(--muted); white-space: nowrap; }
td.gate { min-width: 300px; }
td.gate code { color: var(--ink); }
td.gate .reason { color: var(--muted); font-size: 12.5px; margin-top: 2px; }
td.detail { max-width: 420px; overflow-wrap: anywhere; color: var(--muted); }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px;
  font-weight: 600; white-space: nowrap; }
.badge.ok { color: var(--ok); background: var(--ok-bg); }
.badge.warn { color: var(--warn); background: var(--warn-bg); }
.badge.bad { color: var(--bad); background: var(--bad-bg); }
.badge.info { color: var(--accent); background: var(--info-bg); }
.banner { border-radius: 10px; padding: 14px 20px; margin-bottom: 20px; font-size: 16px;
  font-weight: 600; border: 1px solid; }
.banner.ok { color: var(--ok); background: var(--ok-bg); border-color: #b7dfc3; }
.banner.bad { color: var(--bad); background: var(--bad-bg); border-color: #f4b7b2; }
.banner small { display: block; font-weight: 400; font-size: 13px; color: var(--ink); }
.verdict { display: flex; gap: 12px; align-items: center; padding: 10px 14px; border-radius: 8px;
  margin: 0 0 14px; }
.verdict.ok { background: var(--ok-bg); } .verdict.bad { background: var(--bad-bg); }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(380px, 1fr)); gap: 16px 28px; }
figure { margin: 0; break-inside: avoid; }
figure h3 { font-size: 14px; margin: 4px 0 6px; }
figure figcaption { font-size: 12px; color: var(--muted); margin-top: 2px; }
svg.chart { width: 100%; max-width: 560px; height: auto; display: block; overflow: visible;
  font-family: inherit; }
svg.chart text { font-size: 11px; fill: #4b5563; }
svg.chart text.label { font-size: 12px; fill: var(--ink); font-weight: 600; }
svg.chart text.note { font-size: 10.5px; fill: #374151; paint-order: stroke; stroke: #fff;
  stroke-width: 3px; stroke-linejoin: round; }
svg.chart text.flag { fill: var(--bad); font-weight: 600; }
svg.chart .legend text { font-size: 11.5px; fill: var(--ink); }
svg.chart .grid line { stroke: #eef0f3; }
svg.chart .axis line { stroke: #9ca3af; }
svg.chart .series { fill: none; stroke-width: 2.2; stroke-linejoin: round; stroke-linecap: round; }
svg.chart .diagonal { stroke: #9ca3af; stroke-dasharray: 5 4; stroke-width: 1.3; }
svg.chart .rule { stroke-dasharray: 4 3; stroke-width: 1.4; }
svg.chart .hit { fill-opacity: 0; }
svg.chart .hit:hover, svg.chart .dot:hover { fill-opacity: 1; stroke: #fff; stroke-width: 1.5; }
svg.chart .dot { stroke: #fff; stroke-width: 1; }
svg.chart .mark { stroke: #fff; stroke-width: 2; }
svg.chart .pt { fill: #4c78a8; fill-opacity: .45; }
svg.chart .pt:hover { fill-opacity: 1; }
svg.chart .bar:hover { opacity: .8; }
svg.chart .bar.flagged { stroke: var(--bad); stroke-width: 2; }
svg.chart .cell rect:hover { stroke: var(--ink); stroke-width: 1.5; }
.muted { color: var(--muted); }
details { margin-top: 10px; }
details > summary { cursor: pointer; color: var(--muted); font-weight: 600; padding: 6px 0; }
details[open] > summary { margin-bottom: 6px; }
footer { color: var(--muted); font-size: 12px; text-align: center; margin-top: 12px; }
@media (max-width: 860px) {
  .layout { grid-template-columns: 1fr; padding: 12px; }
  nav.toc { position: static; max-height: none; }
  nav.toc ol { display: flex; flex-wrap: wrap; border: 0; gap: 2px 4px; }
  .charts { grid-template-columns: 1fr; }
}
@media print {
  details > * { display: block; }
  body { background: #fff; font-size: 12px; }
  .layout { display: block; padding: 0; max-width: none; }
  nav.toc { display: none; }
  section, header.top { border: 0; padding: 8px 0; break-inside: auto; }
  figure, table, .cards, .banner { break-inside: avoid; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""
