"""Typical wrong answers to notebook 07's exercises."""

from collections import Counter

import torch


def vote_no_normalise(answers):
    return Counter(answers).most_common(1)[0][0]


def vote_alphabetical(answers):
    answers = [" ".join(a.split()) for a in answers]
    counts = Counter(answers)
    best = max(counts.values())
    return min(a for a in answers if counts[a] == best)


def vote_last(answers):
    answers = [" ".join(a.split()) for a in answers]
    counts = Counter(answers)
    best = max(counts.values())
    return [a for a in answers if counts[a] == best][-1]


def vote_pair(answers):
    return Counter(" ".join(a.split()) for a in answers).most_common(1)[0]


def vote_count(answers):
    return max(Counter(answers).values())


def prepend(embeds, P, slot):
    return torch.cat([P, embeds])


def replace(embeds, P, slot):
    return torch.cat([embeds[:slot], P, embeds[slot + len(P):]])


def after_slot(embeds, P, slot):
    return torch.cat([embeds[:slot + 1], P, embeds[slot + 1:]])


def hard_coded(embeds, P, slot):
    return torch.cat([embeds[:2], P, embeds[2:]])


def no_gradient(embeds, P, slot):
    return torch.tensor(torch.cat([embeds[:slot], P, embeds[slot:]]).tolist())


WRONG = {
    "nb07.q1": [
        (lambda c: vote_no_normalise, "different spacing"),
        (lambda c: vote_alphabetical, "alphabetically first"),
        (lambda c: vote_last, "LAST prompt"),
        (lambda c: vote_pair, "not an (answer, count) pair"),
        (lambda c: vote_count, "not its number of votes"),
        (lambda c: "a", "pass your function itself"),
    ],
    "nb07.q2": [
        (lambda c: prepend, "in front of everything"),
        (lambda c: replace, "overwrote input tokens"),
        (lambda c: after_slot, "off by one"),
        (lambda c: hard_coded, "do not hard-code"),
        (lambda c: no_gradient, "gradient does not reach P"),
    ],
    "nb07.q3": [
        (lambda c: "5", "raw probabilities"),
        (lambda c: "8 5", "LOG-probabilities"),
        (lambda c: 0, "not its index"),
        (lambda c: "7", "one of the candidates"),
    ],
}
