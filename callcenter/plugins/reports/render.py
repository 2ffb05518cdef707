"""Report files: PDF (WeasyPrint: HTML/CSS with Noto CJK, cover, page numbers, matplotlib charts) and
XLSX (openpyxl: one sheet per table, numbers as numbers, ratios as percentages).
"""

from __future__ import annotations

import base64
import html
import io
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from callcenter.plugins.reports.figures import Chart, ReportData, Table

CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
)
FONT_FAMILY = "Noto Sans CJK SC"


@lru_cache(maxsize=1)
def _matplotlib() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import font_manager, pyplot

    for path in CJK_FONTS:
        if Path(path).exists():
            font_manager.fontManager.addfont(path)
    matplotlib.rcParams["font.family"] = [FONT_FAMILY, "sans-serif"]
    matplotlib.rcParams["axes.unicode_minus"] = False
    return pyplot


def chart_png(chart: Chart) -> bytes:
    plt = _matplotlib()
    fig, ax = plt.subplots(figsize=(7.2, 3.0 if chart.kind != "barh" else 3.6), dpi=130)
    try:
        if chart.kind == "line":
            for name, values in chart.series.items():
                ax.plot(chart.labels, values, label=name, linewidth=1.6 if name == "受理量" else 1.0)
            step = max(1, len(chart.labels) // 12)
            ax.set_xticks(
                range(0, len(chart.labels), step),
                [chart.labels[i] for i in range(0, len(chart.labels), step)],
            )
        elif chart.kind == "barh":
            values = next(iter(chart.series.values()), [])
            ax.barh(list(reversed(chart.labels)), list(reversed(values)), color="#3b7dd8")
            ax.tick_params(axis="y", labelsize=7)
        else:
            width = 0.8 / max(1, len(chart.series))
            for i, (name, values) in enumerate(chart.series.items()):
                ax.bar([x + i * width for x in range(len(chart.labels))], values, width, label=name)
            ax.set_xticks(
                [x + width * (len(chart.series) - 1) / 2 for x in range(len(chart.labels))], chart.labels
            )
        if len(chart.series) > 1:
            ax.legend(fontsize=7)
        ax.set_title(chart.title, fontsize=10)
        ax.tick_params(labelsize=7)
        ax.grid(axis="x" if chart.kind == "barh" else "y", alpha=0.3)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return buf.getvalue()
    finally:
        plt.close(fig)


def cell_text(value: Any, fmt: str) -> str:
    if value is None:
        return "—"
    if fmt == "pct":
        return f"{value * 100:.1f}%"
    if fmt == "float":
        return f"{value:.2f}" if isinstance(value, float) else str(value)
    return str(value)


_CSS = """
@page { size: A4; margin: 18mm 14mm 18mm 14mm;
  @bottom-center { content: "第 " counter(page) " 页 / 共 " counter(pages) " 页";
                   font-size: 8pt; color: #555; }
  @top-right { content: string(doctitle); font-size: 8pt; color: #777; } }
@page :first { @bottom-center { content: none; } @top-right { content: none; } }
body { font-family: "Noto Sans CJK SC", sans-serif; font-size: 9pt; color: #222; }
.cover { page-break-after: always; text-align: center; padding-top: 55mm; }
.cover h1 { font-size: 26pt; margin: 0 0 8mm 0; string-set: doctitle content(); }
.cover .period { font-size: 15pt; margin-bottom: 40mm; }
.cover .center { font-size: 14pt; }
.cover .meta { font-size: 9pt; color: #666; margin-top: 6mm; }
.cover .demo { color: #b00; font-size: 11pt; margin-top: 10mm; }
h2 { font-size: 13pt; border-bottom: 1px solid #3b7dd8; padding-bottom: 1mm; margin-top: 6mm; }
h3 { font-size: 10.5pt; margin: 4mm 0 2mm 0; }
table { border-collapse: collapse; width: 100%; margin-bottom: 3mm; }
th, td { border: 0.4pt solid #aaa; padding: 1mm 1.5mm; font-size: 8pt; }
th { background: #e8eef8; }
td.num { text-align: right; }
.note { color: #666; font-size: 7.5pt; }
.summary li { margin-bottom: 1.5mm; }
img.chart { width: 100%; }
"""


def _table_html(t: Table) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in t.columns)
    body = []
    for row in t.rows[: t.pdf_rows]:
        cells = "".join(
            f'<td class="{"num" if f != "text" else ""}">{html.escape(cell_text(v, f))}</td>'
            for v, f in zip(row, t.formats, strict=True)
        )
        body.append(f"<tr>{cells}</tr>")
    if not t.rows:
        body.append(f'<tr><td colspan="{len(t.columns)}">本期无数据</td></tr>')
    more = (
        f'<p class="note">共{len(t.rows)}行，此处列出前{t.pdf_rows}行，'
        f"完整数据见 XLSX 工作表“{html.escape(sheet_name(t))}”。</p>"
        if len(t.rows) > t.pdf_rows
        else ""
    )
    note = f'<p class="note">{html.escape(t.note)}</p>' if t.note else ""
    return (
        f"<h3>{html.escape(t.title)}</h3><table><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>{more}{note}"
    )


def _chart_html(c: Chart) -> str:
    data = base64.b64encode(chart_png(c)).decode()
    return f'<img class="chart" alt="{html.escape(c.title)}" src="data:image/png;base64,{data}">'


SECTIONS = (
    ("一、总体情况", ("overview", "kpi_overall"), ("trend",)),
    ("二、来源与分类", ("channels", "categories", "districts"), ("channels",)),
    ("三、高频事项与高频区域", ("matters", "hot_streets", "hot_communities"), ("matters", "streets")),
    ("四、三率两度排名", ("kpi_unit", "kpi_street", "exclusions"), ()),
    ("五、超期与督办", ("overdue",), ()),
    ("六、回访结果", ("return_visits",), ()),
    ("七、重复诉求", ("repeats",), ()),
)


def pdf_html(data: ReportData) -> str:
    p = data.period
    title = f"{data.center}{p.title}"
    demo = (
        f'<div class="demo">本期含演示数据 {data.demo_cases} 件（演示数据，非真实诉求）</div>'
        if data.demo_cases
        else ""
    )
    parts = [
        f'<div class="cover"><h1>{html.escape(title)}</h1>'
        f'<div class="period">{html.escape(p.label())}</div>'
        f'<div class="center">{html.escape(data.center)}</div>'
        f'<div class="meta">统计周期 {p.start.isoformat()} 至 {p.end.isoformat()}'
        f"（{html.escape(str(data.tz))}）；"
        f"对比周期 {data.previous.start.isoformat()} 至 {data.previous.end.isoformat()}；"
        f"生成时间 {data.generated_at.astimezone(data.tz):%Y-%m-%d %H:%M}</div>{demo}</div>",
        "<h2>摘要</h2><ul class='summary'>"
        + "".join(f"<li>{html.escape(s)}</li>" for s in data.summary)
        + "</ul>",
    ]
    charts = {c.key: c for c in data.charts}
    for heading, keys, chart_keys in SECTIONS:
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        for ck in chart_keys:
            if ck in charts:
                parts.append(_chart_html(charts[ck]))
        for k in keys:
            parts.append(_table_html(data.table(k)))
    head = f"<meta charset='utf-8'><title>{html.escape(title)}</title><style>{_CSS}</style>"
    return f"<html><head>{head}</head><body>{''.join(parts)}</body></html>"


def write_pdf(data: ReportData, path: Path) -> Path:
    from weasyprint import HTML

    HTML(string=pdf_html(data)).write_pdf(str(path))
    return path


_BAD_SHEET = re.compile(r"[\[\]:*?/\\]")


def sheet_name(t: Table) -> str:
    return _BAD_SHEET.sub("", t.title)[:31]


def write_xlsx(data: ReportData, path: Path) -> Path:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "概要"
    p = data.period
    ws.append(["报告", f"{data.center}{p.title}"])
    ws.append(["统计周期", p.start, p.end])
    ws.append(["对比周期", data.previous.start, data.previous.end])
    ws.append(["生成时间", data.generated_at.astimezone(data.tz).replace(tzinfo=None)])
    ws.append(["演示数据件数", data.demo_cases])
    ws.append([])
    ws.append(["摘要"])
    for s in data.summary:
        ws.append([s])
    notes = [(t.title, t.note) for t in data.tables if t.note]
    if notes:
        ws.append([])
        ws.append(["说明"])
        for title, note in notes:
            ws.append([title, note])
    for cell in ("B2", "C2", "B3", "C3"):
        ws[cell].number_format = "yyyy-mm-dd"
    ws["B4"].number_format = "yyyy-mm-dd hh:mm"
    ws.column_dimensions["A"].width = 16
    ws.column_dimensions["B"].width = 60
    used: set[str] = {"概要"}
    for t in data.tables:
        name = sheet_name(t)
        base, i = name, 2
        while name in used:
            name = f"{base[:28]}_{i}"
            i += 1
        used.add(name)
        sh = wb.create_sheet(name)
        sh.append(t.columns)
        for c in sh[1]:
            c.font = Font(bold=True)
        for row in t.rows:
            sh.append(list(row))
        for col, fmt in enumerate(t.formats, start=1):
            letter = get_column_letter(col)
            sh.column_dimensions[letter].width = 28 if fmt == "text" else 12
            number_format = {"pct": "0.0%", "float": "0.00", "int": "0"}.get(fmt)
            if number_format:
                for (cell,) in sh.iter_rows(min_row=2, min_col=col, max_col=col):
                    cell.number_format = number_format
        sh.freeze_panes = "A2"
    wb.save(str(path))
    return path
