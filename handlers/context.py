"""What a step works with: the person, their stored state, the language, and the replies."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ffs_bot.db.uow import UnitOfWork
from ffs_bot.i18n import Translator, Translators, negotiate_language
from ffs_bot.messages import Choice, Reply
from ffs_bot.model import ConversationState, Identity, Person
from ffs_bot.notices import FamilyNotifier
from ffs_bot.privacy import DEFAULT_RETENTION_DAYS
from ffs_bot.services.factories import get_factory
from ffs_bot.workshop_notices import WorkshopNotifier

if TYPE_CHECKING:
    from handlers.router import Router

__all__ = ["DEFAULT_TIMEZONE", "Context"]

# Where a person with no factory yet is shown times.
DEFAULT_TIMEZONE = "Asia/Shanghai"


@dataclass
class Context:
    """One inbound message's view of the world, and the replies it produces."""

    uow: UnitOfWork
    person: Person
    identity: Identity
    state: ConversationState
    translators: Translators
    router: Router
    notify: FamilyNotifier
    workshop_notify: WorkshopNotifier
    replies: list[Reply] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Days children's data is kept after their last season, as the privacy notice says.
    retention_days: int = DEFAULT_RETENTION_DAYS
    # Set when the person was just forgotten: their account and conversation are gone.
    erased: bool = False
    # What this message has read already, for the steps it passes through (a press that
    # opens a workshop, then the workshop's prompt): read once, not once per step.
    read: dict[str, Any] = field(default_factory=dict)

    @property
    def language(self) -> str:
        """The person's chosen language, else the one their app suggests."""
        return self.person.language or negotiate_language(self.identity.language_hint)

    @property
    def t(self) -> Translator:
        """The translator for the person's language."""
        return self.translators[self.language]

    def _(self, msgid: str, /, **params: Any) -> str:
        """Translate `msgid` into the person's language and fill its placeholders."""
        return self.t._(msgid, **params)

    async def zone(self) -> str:
        """The time zone of the person's factory, in which times are shown to them."""
        factory_id = self.person.factory_id
        factory = await get_factory(self.uow, factory_id) if factory_id else None
        return factory.timezone if factory else DEFAULT_TIMEZONE

    def other_language(self) -> str:
        """The language the person is not using, for bilingual lines."""
        return next(lang for lang in self.translators if lang != self.language)

    def both(self, msgid: str, separator: str = " / ") -> str:
        """`msgid` in the person's language first, then in the other one."""
        first = self._(msgid)
        second = self.translators[self.other_language()]._(msgid)
        return first if first == second else f"{first}{separator}{second}"

    def note(self, text: str) -> None:
        """Put a line (an error, a confirmation) at the top of the next message."""
        self.notes.append(text)

    def say(self, text: str, choices: Iterable[Choice] = (), *, numbered: bool = True) -> None:
        """Add a reply; its choices become the ones a typed number or label picks from.

        A question answered by typing passes `numbered=False` (or uses `ask`): its choices
        are then picked by label only, and a typed "1" reaches the step as what was typed.
        """
        buttons = tuple(choices)
        self.replies.append(Reply("\n\n".join([*self.notes, text]), buttons, numbered=numbered))
        self.notes.clear()
        by = {} if numbered else {"by": "label"}
        self.state.choices = [{"label": c.label, "payload": c.payload, **by} for c in buttons]

    def ask(self, text: str, choices: Iterable[Choice] = ()) -> None:
        """Ask a question answered by typing: its buttons are never picked by a typed number."""
        # A name, a note or a code is text: "1" typed there is not the first button (Cancel).
        self.say(text, choices, numbered=False)

    def retry(self, problem: str) -> None:
        """Say in one line what was wrong with an answer; the question and its buttons stand.

        The question is not asked again: it is just above, and saying it twice buries the
        line that tells the person what to change.
        """
        stored = self.state.choices
        buttons = tuple(Choice(str(c["label"]), str(c["payload"])) for c in stored)
        numbered = not any(c.get("by") == "label" for c in stored)
        self.replies.append(Reply("\n\n".join([*self.notes, problem]), buttons, numbered=numbered))
        self.notes.clear()

    def say_brief(self, text: str) -> None:
        """Add a short notice that leaves the current question and its buttons as they are."""
        self.replies.append(Reply(text, brief=True))

    def flush_notes(self) -> None:
        """Send notes that no prompt followed as a message of their own."""
        if self.notes:
            self.replies.append(Reply("\n\n".join(self.notes)))
            self.notes.clear()
            self.state.choices = []

    async def go(self, step: str) -> None:
        """Move to `step` and ask its question."""
        self.state.step = step
        await self.router.get(step).prompt(self)

    async def reprompt(self) -> None:
        """Ask the current step's question again (after a note, say)."""
        await self.go(self.state.step)
