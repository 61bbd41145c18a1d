"""Lottery draws: the engine's replayable draw against ``random.choices``.

In one process, on two tables built by ``lottery_table`` as the runtime builds
them — the default lottery (prize weights 100, 400, 1,500 and 3,000 of 10,000,
the other 5,000 to no prize) and an 8-slot wheel (seven prizes and no prize) —
it times, per single draw:

- the engine's draw: ``Drawer.draw(customer_id, number)``, the keyed BLAKE2b
  value of (campaign, customer, number) and the alias pick of its slot, over
  varying customers and numbers, as the runtime calls it;
- the reference path ``table.pick(draw_value(seed, code, customer, number))``,
  which the drawer must match and beat;
- the alias pick alone, from ``random.getrandbits(64)``;
- ``random.choices(population, weights)``, the naive baseline (not replayable).

Each figure is the best of ``--rounds`` rounds of ``--draws`` draws (other work
on the machine only ever slows a round down). Target: the engine's draw at
least as fast as ``random.choices``.

Then a χ² check of the engine's actual outputs: ``--chi2-draws`` draws
(default 1,000,000) with a fixed seed, customers 1, 2, … and draw numbers 1 to
10 each, their landed slots counted against the weights. Passes when the
p-value is at least 0.001. Needs no database.
"""

import argparse
import hashlib
import math
import random
import sys
import time
from collections import Counter

from _setup import ROOT, ratio, report

sys.path.insert(0, str(ROOT))

from campaigns.runtime.alias import Drawer, draw_value, lottery_table

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--draws", type=int, default=200_000, help="draws per timed round")
parser.add_argument("--rounds", type=int, default=5)
parser.add_argument("--chi2-draws", type=int, default=1_000_000)
ARGS = parser.parse_args()

CODE = "BENCH-LOTTO"
SEED = hashlib.sha256(b"bench/draw.py").hexdigest()  # fixed: the χ² check is reproducible
DRAWS_PER_CUSTOMER = 10
P_MIN = 0.001
TABLES = {
    "default": [100, 400, 1500, 3000],
    "8-slot": [10, 40, 150, 300, 500, 1000, 2000],
}


def slots_config(weights: list[int]) -> list[dict]:
    return [{"id": 101 + i, "role": "prize", "weight": w, "position": i} for i, w in enumerate(weights)]


def calls(n: int) -> list[tuple[int, int]]:
    """(customer id, draw number) pairs the way draws arrive: many customers, a few draws each."""
    first = 1_000_001
    return [(first + i // DRAWS_PER_CUSTOMER, 1 + i % DRAWS_PER_CUSTOMER) for i in range(n)]


def best_rate(run, n: int) -> float:
    best = math.inf
    for _ in range(ARGS.rounds):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return n / best


def timings(name: str, weights: list[int]) -> None:
    table, keys = lottery_table(slots_config(weights))
    drawer = Drawer(SEED, CODE, table, keys)
    population = list(keys)
    full = [table_weight(table, keys, weights, key) for key in keys]
    pairs = calls(ARGS.draws)
    n = len(pairs)

    for customer, number in pairs[:1000]:
        value = draw_value(SEED, CODE, customer, number)
        assert drawer.draw(customer, number) == (value, keys[table.pick(value)]), "the drawer must match the reference"

    def engine() -> None:
        draw = drawer.draw
        for customer, number in pairs:
            draw(customer, number)

    def reference() -> None:
        pick = table.pick
        for customer, number in pairs:
            pick(draw_value(SEED, CODE, customer, number))

    def pick_alone() -> None:
        pick, bits = table.pick, random.getrandbits
        for _ in pairs:
            pick(bits(64))

    def choices() -> None:
        choose = random.choices
        for _ in pairs:
            choose(population, full)

    rates = {
        "engine draw": best_rate(engine, n),
        "draw_value + pick": best_rate(reference, n),
        "pick(getrandbits)": best_rate(pick_alone, n),
        "random.choices": best_rate(choices, n),
    }
    for what, rate in rates.items():
        report(f"rate[{name}, {what}]", rate, "draws/s")
        report(f"time[{name}, {what}]", 1e6 / rate, "us/draw")
    ratio(f"engine draw vs random.choices [{name}]", rates["engine draw"] / rates["random.choices"], 1)
    ratio(f"engine draw vs draw_value + pick [{name}]", rates["engine draw"] / rates["draw_value + pick"], 1)


def table_weight(table, keys: list, weights: list[int], key) -> int:
    """A column's weight of 10,000, no prize being what the prizes leave."""
    return weights[keys.index(key)] if key is not None else table.total - sum(weights)


def upper_gamma_regularized(a: float, x: float) -> float:
    """Q(a, x) = Γ(a, x) / Γ(a): by its series below a + 1, by Lentz's continued fraction above."""
    if x <= 0:
        return 1.0
    log_front = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1:
        term = total = 1.0 / a
        k = a
        while abs(term) > abs(total) * 1e-16:
            k += 1
            term *= x / k
            total += term
        return max(0.0, 1.0 - total * math.exp(log_front))
    tiny = 1e-300
    b = x + 1 - a
    c, d = 1 / tiny, 1 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        step = d * c
        h *= step
        if abs(step - 1) < 1e-16:
            break
    return math.exp(log_front) * h


def chi2(name: str, weights: list[int]) -> bool:
    table, keys = lottery_table(slots_config(weights))
    draw = Drawer(SEED, CODE, table, keys).draw
    n = ARGS.chi2_draws
    started = time.perf_counter()
    counts = Counter(draw(customer, number)[1] for customer, number in calls(n))
    elapsed = time.perf_counter() - started
    statistic = 0.0
    for key in keys:
        expected = n * table_weight(table, keys, weights, key) / table.total
        statistic += (counts[key] - expected) ** 2 / expected
    df = len(keys) - 1
    p = upper_gamma_regularized(df / 2, statistic / 2)
    report(f"chi2_draws[{name}]", n, "draws")
    report(f"chi2_time[{name}]", elapsed, "s")
    print(f"chi2[{name}] = {statistic:.3f}")
    print(f"chi2_df[{name}] = {df}")
    print(f"chi2_p[{name}] = {p:.4f}")
    return p >= P_MIN


def main() -> None:
    report("draws_per_round", ARGS.draws, "draws")
    report("rounds", ARGS.rounds, "rounds")
    for name, weights in TABLES.items():
        timings(name, weights)
    ok = [chi2(name, weights) for name, weights in TABLES.items()]
    print(f"chi2 ok = {'yes' if all(ok) else 'no'}")


main()
