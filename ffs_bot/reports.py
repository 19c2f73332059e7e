"""Programme reports: a year's figures for sponsors and staff, counted from the rows.

Every figure is computed when asked for, from seasons, registrations, attendance, workshops,
bookings, feedback and tip deliveries; no totals are stored. A report takes a fixed handful
of aggregate queries (GROUP BY factory), however many factories and families there are.

Who sees what: the operator at the command line (no viewer) and programme admins see every
factory; a coordinator sees their factories, a sponsor viewer the factories they fund. A
report holds counts and factory names only: never a person's or child's name, phone number
or details, so it is safe to hand to a sponsor.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    distinct,
    exists,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import InstrumentedAttribute

from ffs_bot.db.tables import (
    AttendanceRow,
    BookingRow,
    FactoryRow,
    FeedbackRow,
    GuardianRow,
    PersonRow,
    RegistrationRow,
    RoleRow,
    SeasonRow,
    SeasonSponsorRow,
    SponsorRow,
    TipDeliveryRow,
    WorkshopRow,
    utcnow,
)
from ffs_bot.db.uow import UnitOfWork
from ffs_bot.errors import Forbidden, NotFound
from ffs_bot.i18n import N_, Translator, display_width
from ffs_bot.model import RoleName
from ffs_bot.services.factories import normalise_code
from ffs_bot.services.seasons import Funding, RegistrationStatus
from ffs_bot.services.workshops import BookingStatus
from ffs_bot.spreadsheets import XLSX_MIME, Cell, ExportFile, Table, table_gettext, workbook

__all__ = [
    "DEFAULT_TIMEZONE",
    "FactoryFigures",
    "Report",
    "factories_table",
    "programme_report",
    "report_chart_file",
    "report_tables",
    "report_workbook",
    "report_years",
    "sponsors_table",
    "summary_table",
    "text_table",
]

# The programme's year runs from January 1 to December 31 in this zone unless told otherwise.
DEFAULT_TIMEZONE = "Asia/Shanghai"

SUMMARY_LABELS = {
    "factories": N_("Factories running a Family-Friendly Space"),
    "factories_new": N_("New factories"),
    "factories_returning": N_("Returning factories"),
    "factories_self_funded": N_("Self-funded factories"),
    "factories_sponsored": N_("Sponsored factories"),
    "children_registered": N_("Children registered"),
    "children_confirmed": N_("Children confirmed"),
    "children_attended": N_("Children who attended"),
    "parents": N_("Parents of confirmed children"),
    "workshops_held": N_("Workshops held"),
    "seats_booked": N_("Workshop seats booked"),
    "workshop_attendees": N_("Workshop attendance"),
    "average_rating": N_("Average workshop rating"),
    "tips_sent": N_("Tips sent"),
    "tips_helpful": N_("Tips found helpful"),
}
FACTORY_COLUMNS = (
    N_("Factory"),
    N_("Name"),
    N_("City"),
    N_("New or returning"),
    N_("Funding"),
    N_("Sponsors"),
    N_("Children registered"),
    N_("Children confirmed"),
    N_("Children who attended"),
    N_("Parents"),
    N_("Workshops held"),
    N_("Workshop seats booked"),
    N_("Workshop attendance"),
    N_("Average workshop rating"),
)
SPONSOR_COLUMNS = (N_("Sponsor"), N_("Factories"))
FUNDING_LABELS = {Funding.SELF: N_("Self-funded"), Funding.SPONSOR: N_("Sponsored")}
NEW, RETURNING = N_("New"), N_("Returning")
# Which figures a row of the families query holds.
_CHILDREN, _PARENTS, _TOTALS = 1, 2, 3
# A rating is a number in a text cell: aligned like the counts.
_NUMBER = re.compile(r"\d+(\.\d+)?")


@dataclass(frozen=True, slots=True)
class FactoryFigures:
    """One factory's year: its space (if it ran one), the families in it, its workshops."""

    code: str
    name_zh: str
    name_en: str
    city: str
    runs_ffs: bool
    # Whether it had a season in an earlier year; meaningful only when it runs one this year.
    returning: bool
    funding: Funding | None
    sponsors: tuple[str, ...] = ()
    children_registered: int = 0
    children_confirmed: int = 0
    children_attended: int = 0
    parents: int = 0
    workshops_held: int = 0
    seats_booked: int = 0
    workshop_attendees: int = 0
    ratings: int = 0
    rating_total: int = 0

    def name(self, language: str | None) -> str:
        """The factory's name in `language` (Chinese unless English is asked for)."""
        return self.name_en if language == "en" else self.name_zh

    @property
    def average_rating(self) -> float | None:
        """The mean workshop rating, 1 to 5, or None before anyone rated a workshop."""
        return _average(self.rating_total, self.ratings)


@dataclass(frozen=True, slots=True)
class Report:
    """A programme year's figures over the factories a viewer may see."""

    year: int
    factory_code: str | None
    factories: tuple[FactoryFigures, ...]
    # Each sponsor's name and the codes of the factories it paid for that year.
    sponsors: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Distinct over the whole report: a child or parent at two factories counts once.
    children_registered: int = 0
    children_confirmed: int = 0
    children_attended: int = 0
    parents: int = 0
    tips_sent: int = 0
    tips_helpful: int = 0

    @property
    def ffs_factories(self) -> tuple[FactoryFigures, ...]:
        """The factories that ran a Family-Friendly Space that year."""
        return tuple(f for f in self.factories if f.runs_ffs)

    @property
    def workshops_held(self) -> int:
        """Workshops that took place: not cancelled, started by the time of the report."""
        return sum(f.workshops_held for f in self.factories)

    @property
    def seats_booked(self) -> int:
        """Seats taken at the workshops held."""
        return sum(f.seats_booked for f in self.factories)

    @property
    def workshop_attendees(self) -> int:
        """People checked in at the workshops held, once per workshop."""
        return sum(f.workshop_attendees for f in self.factories)

    @property
    def average_rating(self) -> float | None:
        """The mean rating over every rated workshop seat."""
        return _average(
            sum(f.rating_total for f in self.factories), sum(f.ratings for f in self.factories)
        )

    def figures(self) -> dict[str, int | float | None]:
        """The headline figures by key, in the order of `SUMMARY_LABELS`."""
        ffs = self.ffs_factories
        sponsored = sum(1 for f in ffs if f.funding is Funding.SPONSOR)
        returning = sum(1 for f in ffs if f.returning)
        return {
            "factories": len(ffs),
            "factories_new": len(ffs) - returning,
            "factories_returning": returning,
            "factories_self_funded": len(ffs) - sponsored,
            "factories_sponsored": sponsored,
            "children_registered": self.children_registered,
            "children_confirmed": self.children_confirmed,
            "children_attended": self.children_attended,
            "parents": self.parents,
            "workshops_held": self.workshops_held,
            "seats_booked": self.seats_booked,
            "workshop_attendees": self.workshop_attendees,
            "average_rating": _rounded(self.average_rating),
            "tips_sent": self.tips_sent,
            "tips_helpful": self.tips_helpful,
        }

    def to_json(self) -> dict[str, Any]:
        """The report as plain JSON values: headline figures, sponsors, then each factory."""
        return {
            "year": self.year,
            "factory": self.factory_code,
            **self.figures(),
            "sponsors": {name: list(codes) for name, codes in self.sponsors.items()},
            "by_factory": [
                {
                    "code": f.code,
                    "name_zh": f.name_zh,
                    "name_en": f.name_en,
                    "city": f.city,
                    "runs_ffs": f.runs_ffs,
                    "returning": f.returning if f.runs_ffs else None,
                    "funding": None if f.funding is None else f.funding.value,
                    "sponsors": list(f.sponsors),
                    "children_registered": f.children_registered,
                    "children_confirmed": f.children_confirmed,
                    "children_attended": f.children_attended,
                    "parents": f.parents,
                    "workshops_held": f.workshops_held,
                    "seats_booked": f.seats_booked,
                    "workshop_attendees": f.workshop_attendees,
                    "average_rating": _rounded(f.average_rating),
                }
                for f in self.factories
            ],
        }


def _average(total: int, count: int) -> float | None:
    return total / count if count else None


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


@dataclass
class _Counts:
    """One factory's figures as the queries fill them in."""

    children: tuple[int, int, int] = (0, 0, 0)
    parents: int = 0
    workshops: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)
    sponsors: list[str] = field(default_factory=list)


async def _viewer_factories(uow: UnitOfWork, person_id: int) -> frozenset[int] | None:
    """The factories a person may see figures of; None for every factory.

    Raises:
        Forbidden: the person holds no staff or sponsor role.
    """
    rows = (
        await uow.session.execute(
            select(RoleRow.role, RoleRow.factory_id).where(RoleRow.person_id == person_id)
        )
    ).all()
    if any(role == RoleName.ADMIN.value for role, _factory in rows):
        return None
    # Coordinators see their factories, sponsor viewers the ones they fund: both are scoped.
    scoped = frozenset(
        factory_id
        for role, factory_id in rows
        if role in (RoleName.COORDINATOR.value, RoleName.SPONSOR.value) and factory_id is not None
    )
    if not scoped:
        raise Forbidden(f"person {person_id} may see no report")
    return scoped


async def _scope(uow: UnitOfWork, factory_code: str | None, viewer_person_id: int | None) -> Scope:
    """The factory ids the report covers (None: all), after checking the viewer may see them."""
    allowed = None if viewer_person_id is None else await _viewer_factories(uow, viewer_person_id)
    if factory_code is None:
        return allowed
    code = normalise_code(factory_code)
    factory_id = await uow.session.scalar(select(FactoryRow.id).where(FactoryRow.code == code))
    if factory_id is None:
        raise NotFound(f"unknown factory code {code}")
    if allowed is not None and factory_id not in allowed:
        raise Forbidden(f"person {viewer_person_id} may not see factory {code}")
    return frozenset({factory_id})


def _year_bounds(year: int, timezone: str) -> tuple[datetime, datetime]:
    zone = ZoneInfo(timezone)
    start = datetime(year, 1, 1, tzinfo=zone).astimezone(UTC)
    return start, datetime(year + 1, 1, 1, tzinfo=zone).astimezone(UTC)


Scope = frozenset[int] | None


def _within(column: InstrumentedAttribute[int], scope: Scope) -> list[ColumnElement[bool]]:
    """The filter to the factories in scope; none for every factory."""
    return [] if scope is None else [column.in_(scope)]


def _in_year(year: int) -> ColumnElement[bool]:
    """Seasons that start in the year."""
    return and_(
        SeasonRow.starts_on >= date(year, 1, 1), SeasonRow.starts_on < date(year + 1, 1, 1)
    )


async def report_years(uow: UnitOfWork, *, viewer_person_id: int, this_year: int) -> list[int]:
    """The years with a season the person may see figures of, and this year, newest first.

    A season planned for next summer counts: its registrations are figures already.

    Raises:
        Forbidden: the person holds no staff or sponsor role.
    """
    scope = await _scope(uow, None, viewer_person_id)
    starts = await uow.session.scalars(
        select(SeasonRow.starts_on).where(*_within(SeasonRow.factory_id, scope)).distinct()
    )
    return sorted({this_year, *(day.year for day in starts)}, reverse=True)


async def programme_report(
    uow: UnitOfWork,
    *,
    year: int,
    factory_code: str | None = None,
    viewer_person_id: int | None = None,
    timezone: str = DEFAULT_TIMEZONE,
    now: datetime | None = None,
) -> Report:
    """Count a programme year's factories, families, workshops and tips from the rows.

    A factory runs a Family-Friendly Space in the year a season of it starts; it is returning
    if it had a season in an earlier year. Children are counted once each: registered (any
    registration), confirmed, attended (checked in at least one day); parents are the distinct
    guardians of the confirmed children. Workshops held are those not cancelled that started
    in the year and by `now`. `viewer_person_id` None is the operator, who sees every factory.

    Raises:
        NotFound: an unknown factory code.
        Forbidden: a viewer with no role, or a factory outside the viewer's scope.
    """
    scope = await _scope(uow, factory_code, viewer_person_id)
    year_start, year_end = _year_bounds(year, timezone)
    factories = await _factories(uow, year, scope)
    counts: dict[int, _Counts] = {}
    await _count_sponsors(uow, year, scope, counts)
    families = await _count_families(uow, year, scope, counts)
    await _count_workshops(uow, year_start, min(year_end, now or utcnow()), scope, counts)
    tips_sent, tips_helpful = await _count_tips(uow, year_start, year_end, scope)

    figures: list[FactoryFigures] = []
    for factory_id, code, name_zh, name_en, city, ffs, sponsored, before in factories:
        found = counts.get(factory_id, _Counts())
        if not ffs and not any(found.workshops):
            continue
        held, booked, came_to, ratings, rating_total = found.workshops
        figures.append(
            FactoryFigures(
                code=code,
                name_zh=name_zh,
                name_en=name_en,
                city=city,
                runs_ffs=bool(ffs),
                returning=bool(ffs and before),
                funding=None if not ffs else Funding.SPONSOR if sponsored else Funding.SELF,
                sponsors=tuple(sorted(found.sponsors)),
                children_registered=found.children[0],
                children_confirmed=found.children[1],
                children_attended=found.children[2],
                parents=found.parents,
                workshops_held=held,
                seats_booked=booked,
                workshop_attendees=came_to,
                ratings=ratings,
                rating_total=rating_total,
            )
        )
    figures.sort(key=lambda f: f.code)
    by_sponsor: dict[str, list[str]] = {}
    for f in figures:
        for name in f.sponsors:
            by_sponsor.setdefault(name, []).append(f.code)
    return Report(
        year=year,
        factory_code=None if factory_code is None else normalise_code(factory_code),
        factories=tuple(figures),
        sponsors={name: tuple(codes) for name, codes in sorted(by_sponsor.items())},
        children_registered=families[0],
        children_confirmed=families[1],
        children_attended=families[2],
        parents=families[3],
        tips_sent=tips_sent,
        tips_helpful=tips_helpful,
    )


async def _factories(uow: UnitOfWork, year: int, scope: Scope) -> list[tuple[Any, ...]]:
    """Every factory in scope: whether it ran a space that year, sponsored, and one before.

    One row per factory, whatever its number of seasons.
    """
    in_year = _in_year(year)
    sponsored = and_(in_year, SeasonRow.funding == Funding.SPONSOR.value)
    before = SeasonRow.starts_on < date(year, 1, 1)
    rows = await uow.session.execute(
        select(
            FactoryRow.id,
            FactoryRow.code,
            FactoryRow.name_zh,
            FactoryRow.name_en,
            FactoryRow.city,
            func.max(case((in_year, 1), else_=0)),
            func.max(case((sponsored, 1), else_=0)),
            func.max(case((before, 1), else_=0)),
        )
        .outerjoin(
            SeasonRow,
            and_(
                SeasonRow.factory_id == FactoryRow.id,
                SeasonRow.starts_on < date(year + 1, 1, 1),
            ),
        )
        .where(*_within(FactoryRow.id, scope))
        .group_by(
            FactoryRow.id, FactoryRow.code, FactoryRow.name_zh, FactoryRow.name_en, FactoryRow.city
        )
    )
    return [tuple(row) for row in rows]


async def _count_sponsors(
    uow: UnitOfWork, year: int, scope: Scope, counts: dict[int, _Counts]
) -> None:
    """Note who paid for each factory's space that year."""
    rows = await uow.session.execute(
        select(SponsorRow.name, SeasonRow.factory_id)
        .join(SeasonSponsorRow, SeasonSponsorRow.sponsor_id == SponsorRow.id)
        .join(SeasonRow, SeasonRow.id == SeasonSponsorRow.season_id)
        .where(_in_year(year), *_within(SeasonRow.factory_id, scope))
        .distinct()
    )
    for name, factory_id in rows:
        counts.setdefault(factory_id, _Counts()).sponsors.append(name)


async def _count_families(
    uow: UnitOfWork, year: int, scope: Scope, counts: dict[int, _Counts]
) -> tuple[int, int, int, int]:
    """Count each factory's children and parents that year, and return the totals.

    One statement: a row per child and factory (however many registrations) is read once,
    and each factory's figures and the totals (a child or parent at two factories counted
    once) are counted from it and from the parents of the children placed.
    """
    # An index probe per registration (attendance is unique by registration and day), rather
    # than a join that would multiply each child by the days they came. Not `id IN (SELECT
    # registration_id ...)`: PostgreSQL hashes that list only if it fits in work_mem, and
    # scans attendance once per registration when it does not.
    came = exists().where(AttendanceRow.registration_id == RegistrationRow.id)
    # A child who came had a place, whatever became of it after (cancelled mid-summer, or
    # ended when the child's data was erased): as workshops count a seat someone came to.
    placed = or_(RegistrationRow.status == RegistrationStatus.CONFIRMED.value, came)
    child_at = (
        select(
            SeasonRow.factory_id.label("factory_id"),
            RegistrationRow.child_id.label("child_id"),
            func.max(case((placed, 1), else_=0)).label("placed"),
            func.max(case((came, 1), else_=0)).label("came"),
        )
        .join(SeasonRow, SeasonRow.id == RegistrationRow.season_id)
        .where(_in_year(year), *_within(SeasonRow.factory_id, scope))
        # Child first: SQLite then reads registrations in the order of their child index.
        .group_by(RegistrationRow.child_id, SeasonRow.factory_id)
        .cte("child_at")
    )
    parent_at = (
        select(child_at.c.factory_id, GuardianRow.person_id)
        .join(GuardianRow, GuardianRow.child_id == child_at.c.child_id)
        .where(child_at.c.placed == 1)
        .distinct()
        .cte("parent_at")
    )
    # Each child once, over all factories: one grouping rather than three DISTINCT counts.
    by_child = (
        select(
            child_at.c.child_id,
            func.max(child_at.c.placed).label("placed"),
            func.max(child_at.c.came).label("came"),
        )
        .group_by(child_at.c.child_id)
        .subquery()
    )
    families = union_all(
        select(
            literal(_CHILDREN),
            child_at.c.factory_id,
            func.count(),
            func.sum(child_at.c.placed),
            func.sum(child_at.c.came),
            literal(0),
        ).group_by(child_at.c.factory_id),
        select(
            literal(_PARENTS),
            parent_at.c.factory_id,
            literal(0),
            literal(0),
            literal(0),
            func.count(),
        ).group_by(parent_at.c.factory_id),
        select(
            literal(_TOTALS),
            literal(0),
            func.count(),
            func.coalesce(func.sum(by_child.c.placed), 0),
            func.coalesce(func.sum(by_child.c.came), 0),
            select(func.count(distinct(parent_at.c.person_id))).scalar_subquery(),
        ),
    )
    totals = (0, 0, 0, 0)
    for kind, factory_id, in_all, in_placed, in_came, parents in await uow.session.execute(
        families
    ):
        if kind == _CHILDREN:
            counts.setdefault(factory_id, _Counts()).children = (in_all, in_placed, in_came)
        elif kind == _PARENTS:
            counts.setdefault(factory_id, _Counts()).parents = parents
        else:
            totals = (in_all, in_placed, in_came, parents)
    return totals


async def _count_workshops(
    uow: UnitOfWork, start: datetime, end: datetime, scope: Scope, counts: dict[int, _Counts]
) -> None:
    """Count each factory's workshops held from `start` to `end`, seats, attendance, ratings."""
    # Seats are bookings confirmed, or taken by someone who came all the same.
    seat = or_(BookingRow.status == BookingStatus.CONFIRMED, BookingRow.checked_in_at.is_not(None))
    rows = await uow.session.execute(
        select(
            WorkshopRow.factory_id,
            func.count(distinct(WorkshopRow.id)),
            func.count(BookingRow.id),
            func.count(BookingRow.checked_in_at),
            func.count(FeedbackRow.rating),
            func.coalesce(func.sum(FeedbackRow.rating), 0),
        )
        .outerjoin(BookingRow, and_(BookingRow.workshop_id == WorkshopRow.id, seat))
        .outerjoin(FeedbackRow, FeedbackRow.booking_id == BookingRow.id)
        .where(
            WorkshopRow.cancelled_at.is_(None),
            WorkshopRow.starts_at >= start,
            WorkshopRow.starts_at < end,
            *_within(WorkshopRow.factory_id, scope),
        )
        .group_by(WorkshopRow.factory_id)
    )
    for factory_id, held, booked, came, ratings, rating_total in rows:
        counts.setdefault(factory_id, _Counts()).workshops = (
            held,
            booked,
            came,
            ratings,
            int(rating_total),
        )


async def _count_tips(
    uow: UnitOfWork, start: datetime, end: datetime, scope: Scope
) -> tuple[int, int]:
    """Tips sent from `start` to `end`, and how many were found helpful."""
    tips = select(
        func.count(TipDeliveryRow.id),
        func.count(case((TipDeliveryRow.helpful.is_(True), TipDeliveryRow.id))),
    ).where(TipDeliveryRow.sent_at >= start, TipDeliveryRow.sent_at < end)
    if scope is not None:
        # Tips go to people, not factories: a factory's tips are those of its workers.
        tips = tips.join(PersonRow, PersonRow.id == TipDeliveryRow.person_id).where(
            PersonRow.factory_id.in_(scope)
        )
    sent, helpful = (await uow.session.execute(tips)).one()
    return sent, helpful


def _rating_cell(value: float | None) -> Cell:
    # Tables hold text and whole numbers; one decimal is what a rating out of 5 needs.
    return None if value is None else f"{value:.1f}"


def summary_table(report: Report, translator: Translator | None = None) -> Table:
    """The headline figures, one per row."""
    _ = table_gettext(translator)
    rows: list[tuple[Cell, ...]] = [
        (_(SUMMARY_LABELS[key]), _rating_cell(value) if isinstance(value, float) else value)
        for key, value in report.figures().items()
    ]
    return Table(_("Summary"), (_("Figure"), str(report.year)), rows)


def factories_table(report: Report, translator: Translator | None = None) -> Table:
    """A row per factory: its space, its families and its workshops."""
    _ = table_gettext(translator)
    language = None if translator is None else translator.language
    rows: list[tuple[Cell, ...]] = [
        (
            f.code,
            f.name(language),
            f.city,
            None if not f.runs_ffs else _(RETURNING if f.returning else NEW),
            None if f.funding is None else _(FUNDING_LABELS[f.funding]),
            ", ".join(f.sponsors) or None,
            f.children_registered,
            f.children_confirmed,
            f.children_attended,
            f.parents,
            f.workshops_held,
            f.seats_booked,
            f.workshop_attendees,
            _rating_cell(f.average_rating),
        )
        for f in report.factories
    ]
    return Table(_("Factories"), tuple(map(_, FACTORY_COLUMNS)), rows)


def sponsors_table(report: Report, translator: Translator | None = None) -> Table:
    """Each sponsor with the factories it paid for."""
    _ = table_gettext(translator)
    rows: list[tuple[Cell, ...]] = [
        (name, ", ".join(codes)) for name, codes in report.sponsors.items()
    ]
    return Table(_("Sponsors"), tuple(map(_, SPONSOR_COLUMNS)), rows)


def report_tables(report: Report, translator: Translator | None = None) -> list[Table]:
    """The report's tables: summary, factories, sponsors."""
    return [
        summary_table(report, translator),
        factories_table(report, translator),
        sponsors_table(report, translator),
    ]


def _stem(report: Report) -> str:
    stem = f"ffs-report-{report.year}"
    return stem if report.factory_code is None else f"{stem}-{report.factory_code}"


def report_workbook(report: Report, translator: Translator | None = None) -> ExportFile:
    """The report's tables as a workbook, a sheet each; it needs no font."""
    tables = workbook(report_tables(report, translator))
    return ExportFile(f"{_stem(report)}.xlsx", tables, XLSX_MIME)


def report_chart_file(report: Report, translator: Translator | None = None) -> ExportFile:
    """The children-and-parents chart as a PNG file.

    CPU-bound (a few hundred milliseconds): run it outside a transaction.

    Raises:
        CjkFontMissing: no Chinese font is installed for the chart.
    """
    # Imported here: matplotlib takes half a second to load, which only charts should pay.
    from ffs_bot.charts import PNG_MIME, report_chart

    return ExportFile(f"{_stem(report)}.png", report_chart(report, translator), PNG_MIME)


def _pad(text: str, width: int, *, right: bool) -> str:
    gap = " " * max(width - display_width(text), 0)
    return gap + text if right else text + gap


def text_table(table: Table) -> str:
    """The table as aligned plain text for a terminal: numbers right, text left."""
    cells = [[("" if v is None else str(v)) for v in row] for row in table.rows]
    numeric = [
        all(
            value is None or isinstance(value, int) or _NUMBER.fullmatch(str(value))
            for value in column
        )
        for column in zip(*table.rows, strict=True)
    ] or [False] * len(table.header)
    widths = [
        max([display_width(label), *(display_width(row[i]) for row in cells)])
        for i, label in enumerate(table.header)
    ]

    def line(values: Sequence[str]) -> str:
        padded = (_pad(v, w, right=n) for v, w, n in zip(values, widths, numeric, strict=True))
        return "  ".join(padded).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([table.title, line(table.header), rule, *(line(row) for row in cells)])
