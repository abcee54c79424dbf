"""Natural times and durations, as a table."""

from datetime import UTC, datetime, timedelta

import pytest

from controlplane.presentation import naturaldelta, naturaltime

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("delta", "words"), [
    (None, "—"), (timedelta(seconds=5), "5 s"), (timedelta(minutes=1), "1 min"), (timedelta(minutes=90), "1 h 30 min"),
    (timedelta(hours=4), "4 h"), (timedelta(days=7), "1 week"), (timedelta(days=3, hours=5), "3 days 5 h"),
    (timedelta(days=8, minutes=5), "1 week 1 day"), (timedelta(seconds=14400), "4 h"),
])
def test_durations(delta, words):
    assert naturaldelta(delta) == words


@pytest.mark.parametrize(("when", "words"), [
    (None, "—"), (NOW - timedelta(seconds=10), "just now"), (NOW + timedelta(seconds=30), "just now"),
    (NOW - timedelta(minutes=5, seconds=20), "5 min ago"), (NOW - timedelta(days=2, hours=3), "2 days ago"),
    (NOW + timedelta(hours=3, minutes=59), "in 3 h"),
])
def test_times(when, words):
    assert naturaltime(when, now=NOW) == words
