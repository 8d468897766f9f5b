"""report.html: a sweep (or every run under a folder) on one self-contained page.

The charts are matplotlib SVG inlined in the page, its script a few lines of our
own: nothing to fetch, so the page opens from file:// offline, in a mail or years
later, and weighs tens of kilobytes where a JavaScript plotting library alone
weighs megabytes. Links (a job's folder and plots) are relative to the page.
"""

from __future__ import annotations

import html
import io
import json
import os
import re
from pathlib import Path
from urllib.parse import quote

import matplotlib
import pandas as pd

from mnist_exp.results import files
from mnist_exp.results.metrics import Place, finite, shown_in
from mnist_exp.sweeps import charts, study
from mnist_exp.sweeps.tables import display_columns, format_cell, job_column, repeats_table

REPORT_HTML = "report.html"
TOP_JOBS = 5  # validation curves drawn for this many of the best jobs


def write(summary, folder: Path | None = None) -> Path:
    """Write report.html for a summary.Summary into `folder` (its root by default)."""
    folder = Path(folder or summary.root)
    page = render(summary, folder)
    return files.write_with(folder / REPORT_HTML, lambda p: p.write_text(page, encoding="utf-8"))


def render(summary, folder: Path) -> str:
    """The page's HTML."""
    table = summary.table
    ident = job_column(table)
    labels = table[ident].astype(str)
    record = files.read_yaml_or_empty(summary.root / files.MULTIRUN)
    sections = [
        _header(summary),
        _best(summary, folder, labels),
        _charts(summary, labels, record),
        _jobs_table(summary, folder, ident),
    ]
    if summary.repeats is not None:
        sections.append(_repeats(summary))
    data = {
        "objective": summary.objective,
        "direction": summary.direction,
        "jobs": [
            {
                "row": int(index),
                "job": labels[index],
                "status": row["status"],
                "objective": finite(row[summary.objective]),
                "params": {key: _plain(row[key]) for key in summary.swept},
            }
            for index, row in table.sort_index().iterrows()
        ],
    }
    title = f"mnist-exp: {summary.root.name or summary.root}"
    return PAGE.format(
        title=html.escape(title),
        style=STYLE,
        body="\n".join(s for s in sections if s),
        data=json.dumps(data).replace("</", "<\\/"),
        script=SCRIPT,
    )


# -- sections --------------------------------------------------------------------------


def _header(summary) -> str:
    counts = summary.table["status"].value_counts()
    parts = ", ".join(f"{n} {status}" for status, n in counts.items())
    lines = [
        f"<h1>{html.escape(str(summary.root))}</h1>",
        f"<p>{len(summary.table)} jobs ({html.escape(parts)}), ranked by "
        f"<b>{html.escape(summary.objective)}</b> ({summary.direction}).</p>",
    ]
    if summary.common:
        lines.append(f"<p>Every job: <code>{html.escape(' '.join(summary.common))}</code></p>")
    return "\n".join(lines)


def _best(summary, folder: Path, labels: pd.Series) -> str:
    table = summary.table
    ranked = table[table["rank"].notna()]
    if ranked.empty:
        return '<p class="none">No job completed.</p>'
    index, row = next(ranked.iterrows())
    job_dir = summary.root / row["path"]
    href = _href(job_dir, folder)
    plots = sorted((job_dir / files.PLOTS).glob("*.png"))
    links = " · ".join(
        f'<a href="{_href(p, folder, slash=False)}">{html.escape(p.stem)}</a>' for p in plots
    )
    given = " ".join(_given(summary, row))
    metrics = [m for m in (summary.objective, *shown_in(Place.BEST)) if m in table]
    values = ", ".join(f"{m} <b>{format_cell(row[m], m)}</b>" for m in dict.fromkeys(metrics))
    return (
        f'<section class="best"><h2>Best: job <a href="{href}">{html.escape(labels[index])}</a>'
        f"</h2><p>{values}</p><p><code>{html.escape(given)}</code></p>"
        f'<p>Its folder: <a href="{href}">{html.escape(row["path"])}</a>'
        + (f"; plots: {links}" if links else "")
        + "</p></section>"
    )


def _charts(summary, labels: pd.Series, record: dict) -> str:
    table, objective = summary.table, summary.objective
    titles = {str(i): _title(summary, labels, i) for i in table.index}
    figures = [
        ("objective", f"{objective} per job", charts.objective_by_launch(table, objective, labels))
    ]
    histories = _top_histories(summary)
    if histories:
        figure = charts.top_curves(histories, labels)
        figures.append(("curves", f"validation curves of the best {len(histories)}", figure))
    if summary.swept:
        figure = charts.parallel_coordinates(table, summary.swept, objective)
        figures.append(("parallel", "the swept parameters, coloured by the objective", figure))
    found = study.importances(summary.root, record)
    if found:
        figure = charts.importances(found, objective)
        figures.append(("importances", "parameter importances (Optuna)", figure))
    parts = [
        f'<figure id="{name}"><figcaption>{html.escape(caption)}</figcaption>'
        f"{svg(figure, name, titles)}</figure>"
        for name, caption, figure in figures
    ]
    return '<section class="charts">' + "\n".join(parts) + "</section>"


def _jobs_table(summary, folder: Path, ident: str) -> str:
    table = summary.table
    columns = display_columns(summary)
    if table["message"].notna().any():
        columns.append("message")
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    rows = []
    for index, row in table.iterrows():
        cells = []
        for column in columns:
            text = html.escape(format_cell(row[column], column))
            if column == ident:
                text = f'<a href="{_href(summary.root / row["path"], folder)}">{text}</a>'
            sort = finite(row[column])
            key = f' data-v="{sort!r}"' if sort is not None else ""
            wide = ' class="text"' if column == "message" else ""
            cells.append(f"<td{key}{wide}>{text}</td>")
        status = html.escape(str(row["status"]))
        rows.append(f'<tr data-row="{index}" class="{status}">{"".join(cells)}</tr>')
    return (
        '<section><h2>Jobs</h2><p class="hint">Click a heading to sort; a row\'s job is '
        "highlighted in the charts while the pointer is on it.</p>"
        f'<div class="wide"><table id="jobs" class="sortable"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div></section>"
    )


def _repeats(summary) -> str:
    shown, columns = repeats_table(summary)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(format_cell(r[c], c))}</td>" for c in columns) + "</tr>"
        for _, r in shown.iterrows()
    )
    return (
        f"<section><h2>Seed repeats</h2><p>Jobs that differ only in <code>training.seed</code>, "
        f"grouped: mean ± standard deviation, ranked by {html.escape(summary.objective)}.</p>"
        f'<table id="repeats" class="sortable"><thead><tr>{head}</tr></thead>'
        f"<tbody>{rows}</tbody></table></section>"
    )


# -- SVG -------------------------------------------------------------------------------


def svg(figure, name: str, titles: dict[str, str]) -> str:
    """A Figure as SVG to inline in the page: text as text (small, selectable), no XML
    prologue, namespaces or metadata (the HTML parser knows SVG), every id prefixed with
    `name` so that charts do not clash, and each job's marks titled (their tooltip)."""
    buffer = io.StringIO()
    salt = {"svg.fonttype": "none", "svg.hashsalt": name}
    with matplotlib.rc_context(salt):
        figure.savefig(buffer, format="svg", metadata=dict.fromkeys(SVG_METADATA))
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r'\s+xmlns(?::\w+)?="[^"]*"', "", text)
    text = text.replace("xlink:href=", "href=")
    text = re.sub(r'id="([^"]+)"', rf'id="{name}-\1"', text)
    text = re.sub(r"url\(#([^)]+)\)", rf"url(#{name}-\1)", text)
    text = re.sub(r'href="#([^"]+)"', rf'href="#{name}-\1"', text)

    def titled(match: re.Match) -> str:
        return f"{match[0]}<title>{html.escape(titles.get(match[1], ''))}</title>"

    return re.sub(rf'<g id="{name}-job-(\d+)">', titled, text)


SVG_METADATA = ("Date", "Creator", "Format", "Type")


# -- helpers ---------------------------------------------------------------------------


def _top_histories(summary) -> dict[int, pd.DataFrame]:
    """history.csv of the best TOP_JOBS ranked jobs, by table index, best first."""
    found = {}
    for index, row in summary.table[summary.table["rank"].notna()].head(TOP_JOBS).iterrows():
        try:
            found[index] = pd.read_csv(summary.root / row["path"] / files.HISTORY)
        except (OSError, ValueError, pd.errors.ParserError):
            continue  # a job without a readable history is left out of the curves
    return found


def _title(summary, labels: pd.Series, index) -> str:
    row = summary.table.loc[index]
    value = format_cell(row[summary.objective], summary.objective) or "-"
    given = ", ".join(_given(summary, row))
    return f"job {labels[index]} ({row['status']}): {summary.objective} {value}" + (
        f"; {given}" if given else ""
    )


def _given(summary, row) -> list[str]:
    """A job's values of the swept keys, as overrides: model.units=128."""
    return [f"{key}={format_cell(row[key], key)}" for key in summary.swept]


def _href(path: Path, folder: Path, slash: bool = True) -> str:
    relative = Path(os.path.relpath(path, folder)).as_posix()
    return quote(relative) + ("/" if slash and relative != "." else "")


def _plain(value):
    """A table cell as JSON: numbers (finite: JSON has no NaN or infinity), text, or null."""
    number = finite(value)
    if number is not None:
        return int(number) if number.is_integer() and not isinstance(value, float) else number
    return None if value is None or pd.isna(value) else str(value)


STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;
 max-width:1180px;padding:0 16px;color:#222}
h1{font-size:20px;word-break:break-all}h2{font-size:16px;margin-top:28px}
code{background:#f3f3f3;padding:1px 4px;border-radius:3px}
.best{border-left:4px solid #f28e2b;padding:2px 14px;background:#fffaf3}
.charts{display:flex;flex-wrap:wrap;gap:12px}
figure{margin:0;border:1px solid #e4e4e4;border-radius:4px;padding:6px}
figcaption{font-weight:600;font-size:13px;margin:2px 4px}
svg{max-width:100%;height:auto;display:block}
table{border-collapse:collapse;font-size:13px;margin-top:6px}.wide{overflow-x:auto}
th,td{padding:3px 8px;border-bottom:1px solid #e4e4e4;text-align:right;white-space:nowrap}
td.text{white-space:normal;text-align:left;min-width:240px}
th{cursor:pointer;background:#f6f6f6;position:sticky;top:0;user-select:none}
th[data-order=asc]::after{content:" \\25B2"}th[data-order=desc]::after{content:" \\25BC"}
tr.failed,tr.interrupted,tr.incomplete,tr.running{color:#b3261e}tr.pruned{color:#8a6d00}
tbody tr:hover{background:#eef4ff}.hint{color:#666;font-size:12px}
.hl path{stroke-width:4px!important;stroke-opacity:1!important}
"""

SCRIPT = """
function sortBy(th){
  const table=th.closest("table"),body=table.tBodies[0],i=th.cellIndex;
  const up=th.dataset.order!=="asc";
  table.querySelectorAll("th").forEach(h=>delete h.dataset.order);
  th.dataset.order=up?"asc":"desc";
  const key=r=>{const c=r.cells[i];return c.dataset.v!==undefined?parseFloat(c.dataset.v)
    :c.textContent.trim();};
  const rows=[...body.rows].sort((a,b)=>{
    const x=key(a),y=key(b);
    if(x===""||y==="")return (x==="")-(y==="");
    const d=typeof x==="number"&&typeof y==="number"?x-y:String(x).localeCompare(String(y));
    return up?d:-d;});
  body.append(...rows);
}
document.querySelectorAll("table.sortable th").forEach(th=>
  th.addEventListener("click",()=>sortBy(th)));
function mark(row,on){
  document.querySelectorAll('[id$="-job-'+row+'"]').forEach(g=>g.classList.toggle("hl",on));
}
document.querySelectorAll("#jobs tbody tr").forEach(tr=>{
  tr.addEventListener("mouseenter",()=>mark(tr.dataset.row,true));
  tr.addEventListener("mouseleave",()=>mark(tr.dataset.row,false));
});
const data=JSON.parse(document.getElementById("sweep-data").textContent);
document.body.dataset.jobs=data.jobs.length;
document.body.dataset.ready="yes";
"""

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>{title}</title>
<script>window.addEventListener("error",e=>{{document.documentElement.dataset.errors=
(document.documentElement.dataset.errors||"")+e.message+"\\n";}});</script>
<style>{style}</style></head>
<body>
{body}
<p class="hint">Written by mnist-exp; <code>mnist-exp-report DIR</code> writes it again.</p>
<script type="application/json" id="sweep-data">{data}</script>
<script>{script}</script>
</body></html>
"""
