"""Long IN lists are split so that no statement exceeds SQLite's limit on parameters."""

from ffs_bot.db.sql import IN_LIST_LIMIT, in_lists


def test_values_are_split_in_order_into_lists_no_longer_than_the_limit() -> None:
    values = list(range(2 * IN_LIST_LIMIT + 1))
    lists = [list(part) for part in in_lists(values)]
    assert [len(part) for part in lists] == [IN_LIST_LIMIT, IN_LIST_LIMIT, 1]
    assert [v for part in lists for v in part] == values
    assert list(in_lists([])) == []
