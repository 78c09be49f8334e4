"""Deltas and totals, as properties: ``None`` (not reported) and ``0`` never blend."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from openpost.analytics.arithmetic import delta, totals
from openpost.analytics.models import METRICS

counter = st.one_of(st.none(), st.integers(min_value=0, max_value=10**15))
metric_sets = st.fixed_dictionaries(dict.fromkeys(METRICS, counter))
# A platform that does not report a counter may also simply leave the key out.
sparse_metric_sets = st.dictionaries(st.sampled_from(METRICS), counter)


@given(metric_sets)
def test_delta_of_a_single_reading_is_the_reading(latest: dict[str, int | None]) -> None:
    assert delta(latest, None) == latest


@given(st.one_of(st.none(), metric_sets))
def test_delta_without_a_latest_reading_is_all_null(previous: dict[str, int | None] | None) -> None:
    assert delta(None, previous) == dict.fromkeys(METRICS)


@given(metric_sets, metric_sets)
def test_delta_is_null_where_either_side_is_null(
    latest: dict[str, int | None], previous: dict[str, int | None]
) -> None:
    result = delta(latest, previous)
    assert set(result) == set(METRICS)
    for metric in METRICS:
        now, before = latest[metric], previous[metric]
        if now is None or before is None:
            assert result[metric] is None
        else:
            assert result[metric] == now - before


@given(metric_sets, metric_sets)
def test_delta_sign_follows_the_counters(
    latest: dict[str, int | None], previous: dict[str, int | None]
) -> None:
    result = delta(latest, previous)
    for metric in METRICS:
        now, before, change = latest[metric], previous[metric], result[metric]
        if change is None:
            continue
        assert now is not None
        assert before is not None
        assert (change > 0) == (now > before)
        assert (change < 0) == (now < before)
        assert (change == 0) == (now == before)


@given(metric_sets)
def test_delta_against_itself_is_zero_only_where_reported(reading: dict[str, int | None]) -> None:
    result = delta(reading, reading)
    for metric in METRICS:
        assert result[metric] == (None if reading[metric] is None else 0)


@given(sparse_metric_sets, sparse_metric_sets)
def test_a_missing_key_is_not_reported(
    latest: dict[str, int | None], previous: dict[str, int | None]
) -> None:
    full = {m: latest.get(m) for m in METRICS}
    full_previous = {m: previous.get(m) for m in METRICS}
    assert delta(latest, previous) == delta(full, full_previous)
    assert delta(latest, None) == full
    assert totals([latest, previous]) == totals([full, full_previous])


@given(st.lists(metric_sets, max_size=12))
def test_totals_sum_the_reporting_rows_only(rows: list[dict[str, int | None]]) -> None:
    result = totals(rows)
    assert set(result) == set(METRICS)
    for metric in METRICS:
        reported = [row[metric] for row in rows if row[metric] is not None]
        if reported:
            assert result[metric] == sum(v for v in reported if v is not None)
        else:
            assert result[metric] is None


def test_totals_of_nothing_are_null_not_zero() -> None:
    assert totals([]) == dict.fromkeys(METRICS)
    assert totals([dict.fromkeys(METRICS)]) == dict.fromkeys(METRICS)


def test_totals_of_measured_zeros_are_zero_not_null() -> None:
    zeros = dict.fromkeys(METRICS, 0)
    assert totals([zeros, dict.fromkeys(METRICS)]) == zeros


@given(st.lists(metric_sets, max_size=8), st.lists(metric_sets, max_size=8))
def test_totals_combine_across_groups(
    first: list[dict[str, int | None]], second: list[dict[str, int | None]]
) -> None:
    combined = totals(first + second)
    assert combined == totals([totals(first), totals(second)])
    assert combined == totals(list(reversed(second)) + list(reversed(first)))


@given(st.lists(st.tuples(metric_sets, st.one_of(st.none(), metric_sets)), max_size=8))
def test_total_of_deltas_reports_only_where_some_target_has_a_delta(
    pairs: list[tuple[dict[str, int | None], dict[str, int | None] | None]],
) -> None:
    deltas = [delta(latest, previous) for latest, previous in pairs]
    result = totals(deltas)
    for metric in METRICS:
        known = [d[metric] for d in deltas if d[metric] is not None]
        assert result[metric] == (sum(v for v in known if v is not None) if known else None)


@given(metric_sets, metric_sets, metric_sets)
def test_deltas_telescope(
    first: dict[str, int | None], second: dict[str, int | None], third: dict[str, int | None]
) -> None:
    """(c - b) + (b - a) == c - a wherever all three readings report the counter."""
    step1, step2, overall = delta(second, first), delta(third, second), delta(third, first)
    for metric in METRICS:
        if None in (first[metric], second[metric], third[metric]):
            continue
        a, b = step1[metric], step2[metric]
        assert a is not None
        assert b is not None
        assert a + b == overall[metric]
