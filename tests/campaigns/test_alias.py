"""Lottery draws: the alias table gives every slot exactly its weight, and a
draw's random value is a keyed hash that replays the same on every machine."""

import hashlib
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from campaigns.runtime.alias import (
    AliasTable,
    Drawer,
    draw_value,
    lottery_table,
    seed_hash,
    seed_new,
)

SEED = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
OTHER_SEED = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"


def period_counts(table: AliasTable, start: int = 0) -> Counter:
    """Picks over one full period of (u mod n, (u div n) mod total): every pair exactly once."""
    period = table.n * table.total
    return Counter(table.pick(u) for u in range(start, start + period))


def exact(weights):
    """What one period must give: weight times n picks per index, none for a zero weight."""
    return Counter({i: w * len(weights) for i, w in enumerate(weights) if w})


def slot(id, position, weight, role="prize"):
    return {"id": id, "role": role, "weight": weight, "position": position}


# --- the alias table ------------------------------------------------------------------


@pytest.mark.parametrize(
    "weights",
    [[1], [1, 1], [1, 2, 3], [5, 0, 5], [0, 0, 7], [3, 1, 1, 1, 4], [1, 400, 1500, 3000, 5099], [9999, 1]],
)
def test_one_period_of_values_picks_each_index_exactly_in_proportion_to_its_weight(weights):
    assert period_counts(AliasTable(weights)) == exact(weights)


def test_the_default_lottery_weights_are_exact_also_for_values_near_two_to_the_64():
    weights = [100, 400, 1500, 3000, 5000]
    table = AliasTable(weights)
    period = table.n * table.total
    start = (2**64 // period - 1) * period

    assert period_counts(table, start) == exact(weights)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=60), min_size=1, max_size=9).filter(lambda w: sum(w) > 0))
def test_any_weights_are_reproduced_exactly_over_a_period(weights):
    assert period_counts(AliasTable(weights)) == exact(weights)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=12).filter(lambda w: sum(w) > 0),
    st.integers(min_value=0, max_value=2**64 - 1),
)
def test_a_zero_weight_is_never_picked_and_every_pick_is_an_index(weights, u):
    picked = AliasTable(weights).pick(u)

    assert 0 <= picked < len(weights)
    assert weights[picked] > 0


@pytest.mark.parametrize("weights", [[], [0, 0], [3, -1, 4]])
def test_weights_must_be_non_negative_with_a_positive_sum(weights):
    with pytest.raises(ValueError):
        AliasTable(weights)


# --- the lottery's slots ---------------------------------------------------------------


def test_lottery_columns_are_the_prize_slots_in_wheel_order_then_the_no_prize_rest():
    slots = [
        slot(13, 2, 1500), slot(11, 0, 100), slot(19, 4, 5000, role="none"),
        slot(14, 3, 3000), slot(12, 1, 400), slot(15, 5, 0),
    ]

    table, keys = lottery_table(slots)

    # The "none" slot's own weight plays no part: no prize is what the prizes leave of 10,000.
    assert keys == [11, 12, 13, 14, None]
    counts = period_counts(table)
    assert {keys[i]: c // table.n for i, c in counts.items()} == {11: 100, 12: 400, 13: 1500, 14: 3000, None: 5000}


def test_prizes_taking_the_whole_10000_leave_no_no_prize_column():
    table, keys = lottery_table([slot(2, 1, 4000), slot(1, 0, 6000)])

    assert keys == [1, 2]
    assert period_counts(table) == Counter({0: 6000 * 2, 1: 4000 * 2})


# --- the random value of a draw --------------------------------------------------------


def test_a_draw_value_is_pinned_so_recorded_draws_replay_after_any_refactor():
    # Computed once with the first implementation; draws_verify depends on these never changing.
    assert draw_value(SEED, "LOTTO-1", 42, 3) == 10684730351363708854
    assert draw_value(SEED, "春节", 1, 0) == 8607678596465305533
    assert draw_value(SEED, "X", 0, 0) == 3283169663910988695


def test_a_draw_value_is_the_same_every_time_and_a_64_bit_number():
    first = draw_value(SEED, "LOTTO-1", 7, 1)

    assert first == draw_value(SEED, "LOTTO-1", 7, 1)
    assert 0 <= first < 2**64


def test_a_draw_value_changes_with_the_customer_the_number_the_campaign_and_the_seed():
    base = draw_value(SEED, "LOTTO-1", 7, 1)

    assert draw_value(SEED, "LOTTO-1", 8, 1) != base
    assert draw_value(SEED, "LOTTO-1", 7, 2) != base
    assert draw_value(SEED, "LOTTO-2", 7, 1) != base
    assert draw_value(OTHER_SEED, "LOTTO-1", 7, 1) != base


def test_customer_and_number_are_separated_so_they_cannot_run_together():
    # "1:23" and "12:3" are different messages.
    assert draw_value(SEED, "L", 1, 23) != draw_value(SEED, "L", 12, 3)


def test_a_campaigns_draws_are_all_different_values():
    values = {draw_value(SEED, "LOTTO-1", customer, number) for customer in range(200) for number in range(10)}

    assert len(values) == 2_000


def test_the_seed_hash_is_its_sha256_so_anyone_can_check_a_revealed_seed():
    # The FIPS 180-2 test vector for "abc".
    assert seed_hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert seed_hash(SEED) == hashlib.sha256(SEED.encode()).hexdigest()


def test_a_new_seed_is_32_random_bytes_in_hex():
    seed = seed_new()

    assert len(seed) == 64
    assert len(bytes.fromhex(seed)) == 32
    assert seed != seed_new()


# --- the runtime's drawer --------------------------------------------------------------


def test_the_drawer_lands_the_pinned_draw_on_the_same_slot_as_value_and_table():
    table, keys = lottery_table([slot(11, 0, 100), slot(12, 1, 400), slot(13, 2, 1500), slot(14, 3, 3000)])
    drawer = Drawer(SEED, "LOTTO-1", table, keys)

    value, landed = drawer.draw(42, 3)

    assert value == 10684730351363708854
    assert landed == keys[table.pick(value)]


@settings(max_examples=300, deadline=None)
@given(
    seed=st.binary(min_size=1, max_size=64).map(bytes.hex),
    code=st.text(min_size=1, max_size=20),
    customer=st.integers(min_value=0, max_value=2**63),
    number=st.integers(min_value=0, max_value=10_000),
    weights=st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=8).filter(lambda w: sum(w) > 0),
)
def test_the_drawer_gives_exactly_what_draw_value_and_pick_give(seed, code, customer, number, weights):
    table = AliasTable(weights)
    keys = [100 + i for i in range(len(weights))]
    drawer = Drawer(seed, code, table, keys)
    expected = draw_value(seed, code, customer, number)

    assert drawer.value(customer, number) == expected
    assert drawer.draw(customer, number) == (expected, keys[table.pick(expected)])


def test_a_drawer_needs_one_key_per_column():
    table, _ = lottery_table([slot(1, 0, 100)])

    with pytest.raises(ValueError):
        Drawer(SEED, "LOTTO-1", table, [1])
