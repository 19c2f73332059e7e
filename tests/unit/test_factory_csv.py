"""Parsing factory CSV files: good rows kept, bad rows reported by line number."""

from __future__ import annotations

import pytest

from ffs_bot.errors import InvalidInput
from ffs_bot.services.factories import normalise_code, parse_factory_csv

HEADER = "code,name_zh,name_en,city,timezone\n"


def test_good_rows_are_kept_and_bad_rows_reported_by_line() -> None:
    text = (
        HEADER
        + "sz01,深圳一厂,Shenzhen One,深圳,Asia/Shanghai\n"
        + "BAD CODE,名字,Name,,\n"
        + "DG01,东莞一厂,Dongguan One,东莞,\n"
        + "\n"
        + "HY01,,Heyuan,河源,Asia/Shanghai\n"
        + "HK01,香港厂,HK,香港,Mars/Base\n"
        + "SZ01,重复,Repeat,深圳,Asia/Shanghai\n"
        + "XX01,too,few\n"
    )
    good, errors = parse_factory_csv(text, "Asia/Shanghai")
    assert [(f.code, f.timezone) for f in good] == [
        ("SZ01", "Asia/Shanghai"),
        ("DG01", "Asia/Shanghai"),
    ]
    assert [e.line for e in errors] == [3, 6, 7, 8, 9]
    assert "code" in errors[0].message
    assert "name_zh" in errors[1].message
    assert "time zone" in errors[2].message
    assert "repeats line 2" in errors[3].message
    assert "columns" in errors[4].message


def test_quoted_fields_with_commas_and_a_byte_order_mark_are_read() -> None:
    text = "\ufeff" + HEADER + 'GZ01,"广州,番禺厂","Panyu, Guangzhou",广州,Asia/Shanghai\n'
    good, errors = parse_factory_csv(text, "Asia/Shanghai")
    assert errors == []
    assert good[0].name_en == "Panyu, Guangzhou"


@pytest.mark.parametrize("text", ["", "code,name\nA,b\n", "name_zh,code,name_en,city,timezone\n"])
def test_a_wrong_header_refuses_the_whole_file(text: str) -> None:
    with pytest.raises(InvalidInput, match="first line"):
        parse_factory_csv(text, "Asia/Shanghai")


def test_codes_are_folded_as_typed_on_phones() -> None:
    assert normalise_code(" ｓｚ０１ ") == "SZ01"
