"""Reference values for StatisticsTests, from scipy, statsmodels and scikit-learn.

Independent of the Swift code: Wilson intervals from statsmodels' proportion_confint, exact
McNemar p-values from statsmodels' mcnemar (checked against scipy's binomtest), balanced accuracy
from scikit-learn, and the label-permutation max-T test twice: once with the same seeded
generator as the Swift code (SplitMix64 words, rejection for bounded integers, Fisher-Yates from
the last position down), which must give identical p-values, and once with numpy's own generator
and many more permutations, which must agree within Monte-Carlo error. Deterministic; run from
the repository root:

    python3 reference/make_statistics_fixtures.py > Tests/StatisticsTests/Fixtures/statistics.json
"""
import json
import math

import numpy as np
from scipy.stats import binomtest
from sklearn.metrics import balanced_accuracy_score
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportion_confint

MASK = (1 << 64) - 1


class SplitMix64:
    def __init__(self, seed):
        self.state = seed

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def below(self, bound):
        threshold = ((1 << 64) - bound) % bound
        while True:
            value = self.next()
            if value >= threshold:
                return value % bound

    def shuffle(self, items):
        for index in range(len(items) - 1, 0, -1):
            j = self.below(index + 1)
            items[index], items[j] = items[j], items[index]


def wilson_cases():
    cases = []
    for k, n in [(0, 0), (0, 1), (1, 1), (0, 10), (10, 10), (5, 10), (3, 7), (623, 1200), (999, 1000), (1, 400)]:
        if n == 0:
            cases.append({"successes": k, "trials": n, "low": None, "high": None})
            continue
        low, high = proportion_confint(k, n, alpha=0.05, method="wilson")
        cases.append({"successes": k, "trials": n, "low": float(low), "high": float(high)})
    return cases


def mcnemar_cases():
    cases = []
    for b, c in [(0, 0), (5, 5), (0, 7), (7, 0), (12, 30), (30, 12), (3, 4), (100, 140), (400, 460), (0, 1), (1, 0), (2000, 1900)]:
        result = mcnemar([[50, b], [c, 50]], exact=True)
        p = float(result.pvalue)
        if b + c > 0:
            other = binomtest(min(b, c), b + c, 0.5, alternative="two-sided").pvalue
            assert math.isclose(p, min(1.0, other), rel_tol=1e-9, abs_tol=1e-300), (b, c, p, other)
        cases.append({"only_first": b, "only_second": c, "p": p})
    return cases


def classification_cases():
    rng = np.random.default_rng(3)
    raw = [
        ("all correct", [0, 1, 1, 0, 1], [0, 1, 1, 0, 1]),
        ("constant answer, imbalanced", [1, 1, 1, 0], [1, 1, 1, 1]),
        ("one class only", [1, 1, 1], [1, 0, 1]),
        ("three options", [0, 1, 2, 2, 1, 0, 2], [0, 2, 2, 1, 1, 0, 0]),
        ("tie in majority", [0, 1, 0, 1], [1, 1, 0, 0]),
        ("random 200", rng.integers(0, 2, 200).tolist(), rng.integers(0, 2, 200).tolist()),
        ("empty", [], []),
    ]
    cases = []
    for name, labels, answers in raw:
        labels, answers = np.array(labels, dtype=int), np.array(answers, dtype=int)
        if len(labels):
            balanced = float(balanced_accuracy_score(labels, answers))
            counts = np.bincount(labels)
            majority = float(counts.max() / len(labels))
            answer_counts = np.bincount(answers)
            share = float(answer_counts.max() / len(answers))
        else:
            balanced = majority = share = None
        cases.append({"name": name, "labels": labels.tolist(), "answers": answers.tolist(),
                      "balanced_accuracy": balanced, "majority_share": majority, "answer_share": share})
    return cases


def permutation_case(name, labels, answers, options, permutations, seed):
    labels = np.array(labels, dtype=int)
    answers = np.array(answers, dtype=int).reshape(-1, len(labels))
    correct = (answers == labels).sum(axis=1)

    generator = SplitMix64(seed)
    shuffled = labels.tolist()
    maxima = []
    for _ in range(permutations):
        generator.shuffle(shuffled)
        maxima.append(int((answers == np.array(shuffled, dtype=int)).sum(axis=1).max()) if len(answers) else 0)
    maxima = np.array(maxima)
    adjusted = [(1 + int((maxima >= c).sum())) / (1 + permutations) for c in correct]

    # The same test with numpy's generator and 20x the permutations: a different Monte-Carlo draw.
    rng = np.random.default_rng(seed + 1000)
    many = 20 * permutations
    mc_maxima = np.array([(answers == rng.permutation(labels)).sum(axis=1).max() for _ in range(many)])
    mc_adjusted = [(1 + int((mc_maxima >= c).sum())) / (1 + many) for c in correct]
    return {"name": name, "options": options, "permutations": permutations, "seed": seed,
            "labels": labels.tolist(), "answers": answers.tolist(), "correct": correct.tolist(),
            "null_maxima": maxima.tolist(), "adjusted_p": adjusted,
            "montecarlo_permutations": many, "montecarlo_adjusted_p": mc_adjusted}


def permutation_cases():
    rng = np.random.default_rng(11)
    n = 80
    labels = (rng.random(n) < 0.6).astype(int)
    rules = []
    rules.append(np.ones(n, dtype=int))        # constant, majority option
    rules.append(np.zeros(n, dtype=int))       # constant, minority option
    good = labels.copy()
    flip = rng.random(n) < 0.15
    good[flip] = 1 - good[flip]
    rules.append(good)                         # a real signal: 85% agreement
    for _ in range(17):
        rules.append(rng.integers(0, 2, n))    # noise
    cases = [permutation_case("signal among noise", labels, np.array(rules), 2, 999, 7)]

    noise = rng.integers(0, 2, (30, 50))
    cases.append(permutation_case("noise only", rng.integers(0, 2, 50), noise, 2, 1000, 0))

    three = rng.integers(0, 3, 40)
    rules3 = [rng.integers(0, 3, 40) for _ in range(5)] + [three]
    rules3[1] = rules3[0].copy()               # a tie for a rank
    cases.append(permutation_case("three options, a tie", three, np.array(rules3), 3, 500, 123456789))

    cases.append({"name": "no rows", "options": 2, "permutations": 10, "seed": 1, "labels": [],
                  "answers": [[], []], "correct": [0, 0], "null_maxima": [0] * 10,
                  "adjusted_p": [1.0, 1.0], "montecarlo_permutations": 10, "montecarlo_adjusted_p": [1.0, 1.0]})
    return cases


print(json.dumps({"z95": 1.959963984540054, "wilson": wilson_cases(), "mcnemar": mcnemar_cases(),
                  "classification": classification_cases(), "permutation": permutation_cases()}, indent=1))
