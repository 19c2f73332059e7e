"""The report chart: a PNG with Chinese names in a CJK font, never boxes; a clear error without."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from matplotlib import rc_context
from matplotlib.image import imread
from matplotlib.text import Text
from openpyxl import load_workbook

from ffs_bot import charts, fonts
from ffs_bot.charts import CjkFontMissing, report_chart, report_figure
from ffs_bot.i18n import Translator
from ffs_bot.reports import FactoryFigures, Report, report_chart_file, report_workbook
from ffs_bot.services.seasons import Funding
from ffs_bot.spreadsheets import XLSX_MIME

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NAMES = ["深圳龙岗欢乐玩具厂", "东莞长安彩虹玩具厂", "河源新港玩具厂"]
REPORT = Report(
    year=2018,
    factory_code=None,
    factories=tuple(
        FactoryFigures(
            code=f"F{i}",
            name_zh=name,
            name_en=f"Toys {i}",
            city="深圳",
            runs_ffs=True,
            returning=i == 0,
            funding=Funding.SPONSOR if i else Funding.SELF,
            sponsors=("TÜV Rheinland",) if i else (),
            children_confirmed=30 + i,
            parents=34 + i,
        )
        for i, name in enumerate(NAMES)
    ),
    sponsors={"TÜV Rheinland": ("F1", "F2")},
    children_confirmed=93,
    parents=105,
)


def texts(report: Report, translator: Translator | None = None) -> list[str]:
    figure = report_figure(report, translator)
    return [t.get_text() for t in figure.findobj(Text) if t.get_text()]


def test_the_chart_is_a_png_with_the_chinese_names_and_the_counts() -> None:
    # pytest turns warnings into errors: a glyph missing from the font fails this test.
    content = report_chart(REPORT)
    assert content.startswith(PNG_SIGNATURE)
    height, width, _channels = imread(io.BytesIO(content)).shape
    assert width > 800 and height > 250
    drawn = texts(REPORT)
    assert [name for name in NAMES if any(name in text for text in drawn)] == NAMES
    assert {"30", "34", "32", "36"} <= set(drawn)
    assert "Children and parents per factory, 2018" in drawn


def test_the_chart_speaks_the_readers_language(translators: dict[str, Translator]) -> None:
    chinese = texts(REPORT, translators["zh_Hans"])
    assert "2018年各工厂的孩子和家长" in chinese
    assert "确认入班的孩子" in chinese
    assert "深圳龙岗欢乐玩具厂 (F0)" in chinese
    english = texts(REPORT, translators["en"])
    assert "Toys 0 (F0)" in english and "Parents of confirmed children" in english


def test_a_year_without_spaces_says_so() -> None:
    empty = Report(year=2031, factory_code=None, factories=())
    assert "No Family-Friendly Space ran in 2031." in texts(empty)
    assert report_chart(empty).startswith(PNG_SIGNATURE)


def test_without_the_cjk_font_chinese_would_be_boxes_and_matplotlib_says_so() -> None:
    # What the chart avoids, and what the test above would catch: a font without the glyphs.
    with rc_context({"font.family": ["DejaVu Sans"]}), pytest.warns(UserWarning, match="Glyph"):
        figure = charts._report_figure(REPORT, None)
        figure.savefig(io.BytesIO(), format="png")


@pytest.mark.usefixtures("no_cjk_font")
def test_without_a_cjk_font_the_chart_fails_clearly_instead_of_drawing_boxes() -> None:
    with pytest.raises(CjkFontMissing, match="fonts-wqy-microhei"):
        report_chart(REPORT)


@pytest.mark.usefixtures("no_cjk_font")
def test_the_workbook_needs_no_font(translators: dict[str, Translator]) -> None:
    book = load_workbook(io.BytesIO(report_workbook(REPORT, translators["zh_Hans"]).content))
    assert book.sheetnames == ["概况", "工厂", "赞助方"]


def test_a_font_is_found_in_any_font_folder_the_best_first(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("deep/er/DroidSansFallbackFull.ttf", "noto/NotoSansCJK-Regular.ttc"):
        (tmp_path / name).parent.mkdir(parents=True)
        (tmp_path / name).write_bytes(b"")
    monkeypatch.setattr(fonts, "DEBIAN_FILES", ())
    monkeypatch.setattr(fonts, "FONT_FOLDERS", (str(tmp_path / "nowhere"), str(tmp_path)))
    fonts.cjk_font_file.cache_clear()
    try:
        assert fonts.cjk_font_file() == tmp_path / "noto/NotoSansCJK-Regular.ttc"
    finally:
        fonts.cjk_font_file.cache_clear()


def test_report_files_are_the_chart_and_a_workbook_of_every_table(
    translators: dict[str, Translator],
) -> None:
    png = report_chart_file(REPORT, translators["zh_Hans"])
    xlsx = report_workbook(REPORT, translators["zh_Hans"])
    assert (png.filename, png.mime) == ("ffs-report-2018.png", "image/png")
    assert png.content.startswith(PNG_SIGNATURE)
    assert (xlsx.filename, xlsx.mime) == ("ffs-report-2018.xlsx", XLSX_MIME)
    book = load_workbook(io.BytesIO(xlsx.content))
    assert book.sheetnames == ["概况", "工厂", "赞助方"]
    summary = {row[0]: row[1] for row in book["概况"].iter_rows(min_row=2, values_only=True)}
    assert (summary["确认入班的孩子"], summary["入班孩子的家长"]) == (93, 105)
    assert summary["开办暑期托管的工厂"] == 3
    factories = list(book["工厂"].iter_rows(values_only=True))
    assert factories[1][:5] == ("F0", "深圳龙岗欢乐玩具厂", "深圳", "往年办过", "工厂自己出资")
    assert list(book["赞助方"].iter_rows(min_row=2, values_only=True)) == [
        ("TÜV Rheinland", "F1, F2")
    ]
    one = Report(year=2018, factory_code="F1", factories=REPORT.factories[1:2])
    assert [report_chart_file(one).filename, report_workbook(one).filename] == [
        "ffs-report-2018-F1.png",
        "ffs-report-2018-F1.xlsx",
    ]
