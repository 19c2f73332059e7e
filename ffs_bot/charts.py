"""Charts as PNG images, drawn off screen with matplotlib; Chinese text in a CJK font.

matplotlib's own fonts have no Chinese glyphs, so a chart is drawn in the font
`ffs_bot.fonts` finds (Debian: `fonts-wqy-microhei` or `fonts-noto-cjk`); without one,
drawing fails with `CjkFontMissing` rather than boxes. Figures are built with the object API
(no pyplot): nothing global, nothing shown. Only charts import matplotlib: it takes half a
second and 50 MiB to load.
"""

from __future__ import annotations

import functools
import io
from contextlib import AbstractContextManager

from matplotlib import font_manager, rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ffs_bot.fonts import CjkFontMissing, cjk_font_file
from ffs_bot.i18n import Translator
from ffs_bot.reports import Report

__all__ = ["PNG_MIME", "CjkFontMissing", "cjk_font_family", "report_chart", "report_figure"]

PNG_MIME = "image/png"
CHILDREN_COLOUR, PARENTS_COLOUR = "#2a7ab9", "#f29b38"


@functools.cache
def cjk_font_family() -> str:
    """The family name of the installed CJK font, registered with matplotlib.

    Raises:
        CjkFontMissing: none is installed.
    """
    path = cjk_font_file()
    # Registered by file: matplotlib's font cache may predate the font's install.
    font_manager.fontManager.addfont(str(path))
    return str(font_manager.FontProperties(fname=path).get_name())


def _english(msgid: str, /, **params: object) -> str:
    # The operator at the command line reads the English msgids as they are.
    return msgid.format(**params) if params else msgid


def _fonts() -> AbstractContextManager[None]:
    # matplotlib makes tick labels while drawing, so the figure is drawn in this context too.
    return rc_context({"font.family": [cjk_font_family(), "DejaVu Sans"], "font.size": 10})


def report_figure(report: Report, translator: Translator | None = None) -> Figure:
    """Children confirmed and parents per factory as grouped horizontal bars, drawn.

    Raises:
        CjkFontMissing: no Chinese font is installed.
    """
    with _fonts():
        figure = _report_figure(report, translator)
        figure.draw_without_rendering()
    return figure


def _report_figure(report: Report, translator: Translator | None) -> Figure:
    _ = _english if translator is None else translator._
    language = None if translator is None else translator.language
    factories = report.ffs_factories
    # A bar pair per factory, the first at the top; room for long Chinese names.
    figure = Figure(figsize=(9, 1.6 + 0.45 * max(len(factories), 2)), dpi=120)
    FigureCanvasAgg(figure)  # Agg draws to memory: no display, no GUI toolkit
    axes = figure.add_subplot()
    title = _("Children and parents per factory, {year}", year=report.year)
    # Larger rather than bold: CJK fonts mostly come in one weight.
    axes.set_title(title, loc="left", fontsize=13, pad=28)
    if not factories:
        message = _("No Family-Friendly Space ran in {year}.", year=report.year)
        axes.text(0.5, 0.5, message, ha="center")
        axes.set_axis_off()
        figure.tight_layout()
        return figure
    rows = range(len(factories))
    height = 0.4
    children = axes.barh(
        [row - height / 2 for row in rows],
        [f.children_confirmed for f in factories],
        height,
        label=_("Children confirmed"),
        color=CHILDREN_COLOUR,
    )
    parents = axes.barh(
        [row + height / 2 for row in rows],
        [f.parents for f in factories],
        height,
        label=_("Parents of confirmed children"),
        color=PARENTS_COLOUR,
    )
    axes.bar_label(children, padding=3, fontsize=8)
    axes.bar_label(parents, padding=3, fontsize=8)
    axes.set_yticks(list(rows), [f"{f.name(language)} ({f.code})" for f in factories])
    axes.invert_yaxis()
    axes.set_xlabel(_("People"))
    axes.margins(x=0.08)
    axes.spines[["top", "right"]].set_visible(False)
    # Above the bars, under the title: never over a bar, however long.
    axes.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncols=2, frameon=False)
    figure.tight_layout()
    return figure


def report_chart(report: Report, translator: Translator | None = None) -> bytes:
    """The children-and-parents chart as a PNG image.

    Raises:
        CjkFontMissing: no Chinese font is installed.
    """
    buffer = io.BytesIO()
    with _fonts():
        figure = _report_figure(report, translator)
        figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
