"""The programme report in chat: staff and sponsor viewers get figures, a chart and a workbook."""

from __future__ import annotations

import pytest

from ffs_bot import reports
from ffs_bot.model import RoleName
from ffs_bot.services.staff import grant_role
from handlers.children import today
from tests.conftest import Backend
from tests.helpers import Chat, seed_factories
from tests.integration.test_children import add_in_chat
from tests.integration.test_summer_chat import open_season, register_in_chat


async def test_a_sponsor_viewer_gets_counts_and_files_but_no_names(backend: Backend) -> None:
    await seed_factories(backend.db)
    await open_season(backend)
    family = Chat(backend.conversations, user="family")
    await family.onboard(name="Parent Lily")
    await add_in_chat(family, "Lily", "2019-05")
    await register_in_chat(family)
    assert "report" not in family.payloads  # workers do not see it
    async with backend.db.uow() as uow:
        await grant_role(
            uow,
            channel="console",
            external_user_id="brand",
            role=RoleName.SPONSOR,
            factory_codes=["SZ01"],
        )
        await uow.commit()
    sponsor = Chat(backend.conversations, user="brand")
    await sponsor.onboard(name="Brand Viewer")
    assert "report" in sponsor.payloads and "staff" not in sponsor.payloads
    await sponsor.press("report")
    # Next summer's season has registrations already: its year is the first choice.
    next_year = today().year + 1
    years = [p for p in sponsor.payloads if p.startswith("rep:")]
    assert years[:2] == [f"rep:{next_year}", f"rep:{next_year - 1}"]
    await sponsor.press(f"rep:{next_year}")
    assert "rep:2018" not in years  # no year with nothing to count, the demo's 2018 included
    texts = "\n".join(reply.text for reply in sponsor.last)
    files = [reply.attachment for reply in sponsor.last if reply.attachment is not None]
    assert {f.filename.rsplit(".", 1)[1] for f in files} == {"png", "xlsx"}
    for secret in ("Lily", "Parent Lily"):
        assert secret not in texts
        assert all(secret.encode() not in f.content for f in files)
    await family.press("report")  # not theirs
    assert "no longer active" in family.text


@pytest.mark.usefixtures("no_cjk_font")
async def test_without_a_chinese_font_staff_still_get_the_figures_and_the_workbook(
    backend: Backend,
) -> None:
    await seed_factories(backend.db)
    async with backend.db.uow() as uow:
        await grant_role(
            uow, channel="console", external_user_id="admin", role=RoleName.ADMIN, factory_codes=[]
        )
        await uow.commit()
    admin = Chat(backend.conversations, user="admin")
    await admin.onboard(name="Admin")
    await admin.press("report")
    await admin.press(next(p for p in admin.payloads if p.startswith("rep:")))
    files = [reply.attachment for reply in admin.last if reply.attachment is not None]
    assert [f.filename.rsplit(".", 1)[1] for f in files] == ["xlsx"]
    texts = "\n".join(reply.text for reply in admin.last)
    # Told in plain words that the chart is missing, with the figures still in the chat.
    assert "The chart cannot be made just now." in texts and "font" not in texts
    assert "• Children registered: 0" in texts


async def test_a_broken_chart_is_told_in_chinese_and_the_figures_come_as_a_phone_list(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object) -> object:
        raise RuntimeError("matplotlib fell over")

    monkeypatch.setattr(reports, "report_chart_file", broken)
    await seed_factories(backend.db)
    async with backend.db.uow() as uow:
        await grant_role(
            uow, channel="console", external_user_id="admin", role=RoleName.ADMIN, factory_codes=[]
        )
        await uow.commit()
    admin = Chat(backend.conversations, user="admin")
    await admin.onboard(name="管理员", language="zh_Hans")
    await admin.press("report")
    await admin.press("rep:2018")
    texts = "\n".join(reply.text for reply in admin.last)
    assert "图表暂时做不出来" in texts
    assert [r.attachment.filename.rsplit(".", 1)[1] for r in admin.last if r.attachment] == [
        "xlsx"
    ]
    (figures,) = [r.text for r in admin.last if r.text.startswith("2018年项目报告")]
    # One "label：value" line per figure: no header row, no dashes, no padding to align.
    assert "---" not in figures and "  " not in figures
    assert all(line.startswith("• ") and "：" in line for line in figures.split("\n")[1:])
