"""The demo backend's test suite, run by the demo with the venv's pytest."""

from pricing import total


def test_single_unit() -> None:
    assert total(2.5, 1) == 2.5


def test_no_discount_below_ten() -> None:
    assert total(3.0, 9) == 27.0


def test_discount_from_ten_units() -> None:
    assert total(10.0, 10) == 90.0


def test_discount_above_ten_units() -> None:
    assert total(10.0, 20) == 180.0
