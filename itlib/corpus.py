"""The pretraining corpus: plain prose about the course's little world.

The skills of the task suite appear as sentences ("Mia lined up the cards 7 2 9; from small to
large they read 2 7 9."), never in the instruction format, plus stories and a fixed set of facts
(each person's favourite colour, pet and number) that closed-book questions can ask about later.
Every answer inside a sentence is computed by the task's reference solver, so it is always right.
"""

from __future__ import annotations

import random

from itlib import tasks as T

FACTS: dict[str, dict[str, str]] = {
    name: {"colour": T.COLOURS[(3 * i + 1) % len(T.COLOURS)], "pet": T.ANIMALS[(5 * i + 2) % len(T.ANIMALS)],
           "number": str((7 * i + 3) % 10)}
    for i, name in enumerate(T.NAMES)
}

# One list of sentence patterns per skill; {n} a name, {x} the input, {y} the reference answer.
SKILLS: dict[str, tuple[str, ...]] = {
    "sort_ascending": ("{n} lined up the cards {x}; from small to large they read {y}.",
                       "Put in order from the smallest, {x} becomes {y}.",
                       "{n} sorted the numbers {x} and got {y}, the smallest first."),
    "sort_descending": ("{n} stacked the cards {x} with the biggest on top: {y}.",
                        "From large to small, the numbers {x} read {y}.",
                        "Sorted with the largest first, {x} turns into {y}."),
    "reverse": ("{n} read the list {x} backwards: {y}.",
                "Backwards, {x} is {y}.",
                "When the line {x} turned around, it went {y}."),
    "uppercase": ("On the sign, {x} was painted in capitals as {y}.",
                  "{n} wrote {x} in big letters: {y}.",
                  "In capital letters, {x} looks like {y}."),
    "next_digit": ("Each counter moved up one step, so {x} became {y}, and a 9 went round to 0.",
                   "One more than each of {x} gives {y}, where 9 turns into 0.",
                   "{n} added one to every digit of {x} and wrote {y}; 9 wraps to 0."),
    "colour_to_chinese": ("The colours {x} are {y} in Chinese.",
                          "In Chinese, {n} says {y} for {x}.",
                          "{n}'s teacher wrote {x} as {y} in Chinese."),
    "count_items": ("{n} counted {x}: {y} in all.",
                    "There are {y} things in {x}.",
                    "The list {x} has {y} items."),
    "max_digit": ("Of the numbers {x}, the biggest is {y}.",
                  "{n} looked at {x} and saw that {y} was the highest.",
                  "The largest of {x} is {y}."),
    "min_digit": ("Of the numbers {x}, the smallest is {y}.",
                  "{n} looked at {x} and saw that {y} was the lowest.",
                  "The least of {x} is {y}."),
    "first_item": ("In the row {x}, the first one is {y}.",
                   "{n} took the first of {x}, which was {y}.",
                   "The row {x} starts with {y}."),
    "last_item": ("In the row {x}, the last one is {y}.",
                  "{n} took the last of {x}, which was {y}.",
                  "The row {x} ends with {y}."),
    "only_colours": ("Among {x}, the colours are {y}.",
                     "{n} picked the colours out of {x}: {y}.",
                     "Leaving out the rest of {x}, the colours were {y}."),
    "sentiment": ("The review '{x}' sounds {y}.",
                  "{n} wrote '{x}', which is a {y} review.",
                  "Words like {x} make the mood {y}."),
    "contains_animal": ("Is there an animal in {x}? The answer is {y}.",
                        "{n} checked {x} for animals and said {y}.",
                        "Any animal in {x}? {y}."),
    "word_type": ("The items {x} are of the kinds {y}.",
                  "{n} marked {x} as {y}, for numbers, colours and animals.",
                  "By kind, {x} reads {y}."),
    "digit_parity": ("The digits {x} are {y} by even and odd.",
                     "{n} marked {x} even or odd as {y}.",
                     "Even or odd, {x} reads {y}."),
}

FACT_SENTENCES = {
    "colour": ("{n}'s favourite colour is {v}.", "{v} is the colour {n} likes best.", "{n} loves the colour {v}."),
    "pet": ("{n} has a pet {v}.", "The {v} at home belongs to {n}.", "{n} looks after a {v}."),
    "number": ("{n}'s lucky number is {v}.", "The number {n} likes most is {v}.", "{n} always picks {v}."),
}

STORY = ("{n} has a {c} {a}. The {a} likes the {c2} {a2}.",
         "{n} saw a {a} near a {c} house and told {n2} about it.",
         "On Monday {n} and {n2} painted a {a} {c}. It looked {s}.",
         "The {c} {a} was {s}, said {n}.")


def skill_sentence(rng: random.Random, task: T.Task) -> str:
    x = task.make_input(rng, rng.choice((1, 2, 3)))
    return rng.choice(SKILLS[task.name]).format(n=rng.choice(T.NAMES), x=x, y=task.solve(x))


def fact_sentence(rng: random.Random) -> str:
    name = rng.choice(T.NAMES)
    key = rng.choice(tuple(FACT_SENTENCES))
    s = rng.choice(FACT_SENTENCES[key]).format(n=name, v=FACTS[name][key])
    return s[0].upper() + s[1:]


def story_sentence(rng: random.Random) -> str:
    n, n2 = rng.sample(T.NAMES, 2)
    return rng.choice(STORY).format(n=n, n2=n2, a=rng.choice(T.ANIMALS), a2=rng.choice(T.ANIMALS),
                                    c=rng.choice(T.COLOURS), c2=rng.choice(T.COLOURS),
                                    s=rng.choice(T.POSITIVE + T.NEGATIVE))


def make_corpus(n_docs: int = 20000, seed: int = 0) -> list[str]:
    """`n_docs` short documents (1-4 sentences): mostly skills in prose, plus facts and stories."""
    rng = random.Random(seed)
    docs = []
    for _ in range(n_docs):
        sentences = []
        for _ in range(rng.randint(1, 4)):
            r = rng.random()
            if r < 0.7:
                sentences.append(skill_sentence(rng, rng.choice(T.SUITE)))
            elif r < 0.85:
                sentences.append(fact_sentence(rng))
            else:
                sentences.append(story_sentence(rng))
        docs.append(" ".join(sentences))
    return docs


def fact_questions() -> list[tuple[str, str]]:
    """Closed-book questions about FACTS, with their answers."""
    q = {"colour": "What is {n}'s favourite colour?", "pet": "What pet does {n} have?",
         "number": "What is {n}'s lucky number?"}
    return [(q[k].format(n=n), v) for n, facts in FACTS.items() for k, v in facts.items()]
