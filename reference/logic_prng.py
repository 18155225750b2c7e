"""Reference outputs of SplitMix64 and xoshiro256** for LogicTasksTests.

Written from the published C reference code (Vigna, prng.di.unimi.it: splitmix64.c and
xoshiro256starstar.c), independent of the Swift implementation. Deterministic; run from the
repository root:

    python3 reference/logic_prng.py > Tests/LogicTasksTests/Fixtures/prng-reference.json
"""
import json

MASK = (1 << 64) - 1


def splitmix64(seed, count):
    state, out = seed, []
    for _ in range(count):
        state = (state + 0x9E3779B97F4A7C15) & MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        out.append(z ^ (z >> 31))
    return out


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & MASK


def xoshiro256starstar(state, count):
    s, out = list(state), []
    for _ in range(count):
        out.append((rotl((s[1] * 5) & MASK, 7) * 9) & MASK)
        t = (s[1] << 17) & MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
    return out


cases = {
    "splitmix64": [{"seed": seed, "outputs": [str(v) for v in splitmix64(seed, 6)]} for seed in (0, 1234567, MASK)],
    "xoshiro256starstar": [
        {"state": [str(v) for v in state], "outputs": [str(v) for v in xoshiro256starstar(state, 6)]}
        for state in ((1, 2, 3, 4), tuple(splitmix64(42, 4)))
    ],
}
cases["splitmix64"] = [dict(c, seed=str(c["seed"])) for c in cases["splitmix64"]]
print(json.dumps(cases, indent=1))
