"""Steps and the router that finds them by the name stored in the conversation state."""

from __future__ import annotations

from collections.abc import Iterable

from handlers.context import Context

__all__ = ["Router", "Step"]


class Step:
    """One question in a conversation; subclasses answer what they understand."""

    name: str = ""
    # Whether typed text is screened for safeguarding phrases; off only where staff write
    # for others (a broadcast about keeping children from getting lost is not an alarm).
    screened: bool = True

    async def prompt(self, ctx: Context) -> None:
        """Ask this step's question."""
        raise NotImplementedError

    async def on_text(self, ctx: Context, text: str) -> bool:
        """Handle typed text; return False if this step does not take text."""
        return False

    async def on_press(self, ctx: Context, payload: str) -> bool:
        """Handle a button press; return False if the button does not belong here."""
        return False


class Router:
    """Every step of every feature, by name."""

    def __init__(self, steps: Iterable[Step] = ()) -> None:
        self._steps: dict[str, Step] = {}
        self.include(steps)

    def include(self, steps: Iterable[Step]) -> None:
        """Add a feature's steps; two steps may not share a name."""
        for step in steps:
            if not step.name or step.name in self._steps:
                raise ValueError(f"step name {step.name!r} is empty or taken")
            self._steps[step.name] = step

    def get(self, name: str) -> Step:
        """Return the step called `name`."""
        return self._steps[name]

    def __contains__(self, name: object) -> bool:
        return name in self._steps
