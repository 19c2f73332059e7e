"""Leaving for a section says something was dropped only when something typed was."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path
from typing import Any

import pytest

from handlers.confirm import ConfirmCancelStep
from handlers.menu import NOT_TYPED, TYPED_DRAFTS, typed_work

REPO = Path(__file__).resolve().parents[2]


def _is_state_data(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "data"
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "state"
    )


def _keys(node: ast.expr, module: Any, tree: ast.Module) -> set[str]:
    """The key a subscript names: a literal, a module's constant, or a function's parameter."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    assert isinstance(node, ast.Name), ast.dump(node)
    if hasattr(module, node.id):
        return {str(getattr(module, node.id))}
    # A helper given the key (broadcasts._keep(ctx, "bc_zh", ...)): what its callers pass.
    keys: set[str] = set()
    for function in ast.walk(tree):
        if not isinstance(function, ast.AsyncFunctionDef | ast.FunctionDef):
            continue
        names = [arg.arg for arg in function.args.args]
        if node.id not in names:
            continue
        at = names.index(node.id)
        for call in ast.walk(tree):
            if (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Name)
                and call.func.id == function.name
            ):
                keys |= _keys(call.args[at], module, tree)
    assert keys, f"no caller names the key {node.id}"
    return keys


def written_keys() -> dict[str, str]:
    """Every key a handler writes into the conversation's data, with where it is written."""
    keys: dict[str, str] = {}
    for path in sorted((REPO / "handlers").glob("*.py")):
        module = importlib.import_module(f"handlers.{path.stem}")
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            targets: list[ast.expr] = []
            if isinstance(node, ast.Assign):
                targets = [
                    t.slice
                    for t in node.targets
                    if isinstance(t, ast.Subscript) and _is_state_data(t.value)
                ]
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "setdefault"
                and _is_state_data(node.func.value)
            ):
                targets = [node.args[0]]
            for target in targets:
                for key in _keys(target, module, tree):
                    keys[key] = f"{path.name}:{node.lineno}"
        # A yes/no before cancelling keeps its record's id under the step's own key.
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, ConfirmCancelStep) and cls.key:
                keys[cls.key] = f"{path.name}:{cls.__name__}"
    return keys


def test_the_scan_finds_what_the_steps_keep() -> None:
    keys = written_keys()
    # A literal, a module's constant, setdefault, a helper's argument and a confirm step's key.
    seen = {"new_child", "change_registration", "helplines_held", "booking", "bc_zh", "bc_en"}
    assert seen <= set(keys)


def test_every_key_a_step_keeps_is_decided_typed_or_not() -> None:
    undecided = {key: where for key, where in written_keys().items() if key not in NOT_TYPED}
    undecided = {key: where for key, where in undecided.items() if key not in TYPED_DRAFTS}
    assert not undecided, f"say in handlers/menu.py whether these hold typed work: {undecided}"
    assert not set(TYPED_DRAFTS) & NOT_TYPED
    # And no key is named that no step keeps any more.
    assert set(TYPED_DRAFTS) | NOT_TYPED <= set(written_keys())


@pytest.mark.parametrize(
    ("data", "dropped"),
    [
        ({}, False),
        # Chosen by taps, or saved already: a season, a child just saved, a week, a decline.
        ({"season_id": 3, "child_id": 7, "first_week": "2026-07-06"}, False),
        ({"staff_season": 2, "decline": 5, "decline_from": "st:regs"}, False),
        ({"staff_workshop": 4, "bc_audience": {"kind": "all"}}, False),
        ({"new_child": {}}, False),
        ({"new_child": {"name": "小明"}}, True),
        ({"form": {"mode": "new", "factory_id": 1, "values": {}}}, False),
        ({"form": {"mode": "new", "factory_id": 1, "values": {"capacity": 20}}}, True),
        # Changing one field of a workshop: nothing is typed until its one answer, saved then.
        ({"plan": {"edit": "topic", "factory": 1}}, False),
        ({"plan": {"factory": 1}}, False),
        ({"plan": {"factory": 1, "when": ["2026-07-14T09:00", "2026-07-14T12:00"]}}, True),
        ({"bc_zh": "", "bc_en": ""}, False),
        ({"bc_zh": "明天停电", "bc_en": ""}, True),
        ({"grant": {"channel": "telegram", "user": "123"}}, True),
        ({"invite": {"ticket": "abc"}}, True),
    ],
)
def test_typed_work_is_what_was_typed_and_not_saved(data: dict[str, Any], dropped: bool) -> None:
    assert typed_work(data) is dropped
