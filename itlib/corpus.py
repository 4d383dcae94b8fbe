"""The pretraining corpus: plain prose about the course's little world.

The skills of the task suite appear as sentences ("Mia lined up the cards 7 2 9; from small to
large they read 2 7 9."), never in the instruction format, plus stories and a fixed set of facts
(each person's favourite colour, pet and number) that closed-book questions can ask about later.
Every answer inside a sentence is computed by the task's reference solver, so it is always right.

Each skill is told in about ten phrasings, some in the words instructions use ("in ascending order",
"in reverse order", "the maximum of") though never an instruction template, and a third of the time
the answer starts a new line. Both matter for the few-examples claim (what a base tuned on a few
examples learns, against a model from scratch): benchmarks/few_examples.py measures it, and the README
reports it.
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
                       "{n} sorted the numbers {x} and got {y}, the smallest first.",
                       "In ascending order, {x} reads {y}.",
                       "From lowest to highest, {x} goes {y}.",
                       "{n} arranged {x} from low to high and got {y}.",
                       "The digits {x} in increasing order are {y}.",
                       "Sorting {x} so that the smallest comes first gives {y}.",
                       "Low to high, the list {x} is {y}."),
    "sort_descending": ("{n} stacked the cards {x} with the biggest on top: {y}.",
                        "From large to small, the numbers {x} read {y}.",
                        "Sorted with the largest first, {x} turns into {y}.",
                        "In descending order, {x} reads {y}.",
                        "From highest to lowest, {x} goes {y}.",
                        "{n} arranged {x} from high to low and got {y}.",
                        "The digits {x} in decreasing order are {y}.",
                        "Sorting {x} so that the biggest comes first gives {y}.",
                        "High to low, the list {x} is {y}."),
    "reverse": ("{n} read the list {x} backwards: {y}.",
                "Backwards, {x} is {y}.",
                "When the line {x} turned around, it went {y}.",
                "In reverse order, {x} is {y}.",
                "{n} flipped the order of {x} and got {y}.",
                "Turned around, the sequence {x} reads {y}.",
                "Going from the end to the start, {x} gives {y}.",
                "Reversing the items {x} gives {y}, the last one first.",
                "The words {x} read from the last to the first are {y}."),
    "uppercase": ("On the sign, {x} was painted in capitals as {y}.",
                  "{n} wrote {x} in big letters: {y}.",
                  "In capital letters, {x} looks like {y}.",
                  "In uppercase, {x} is {y}.",
                  "Converted to upper case, {x} reads {y}.",
                  "{n} capitalised every letter of {x}: {y}.",
                  "In block capitals the words {x} become {y}.",
                  "All in caps, {x} turns into {y}.",
                  "With each lowercase letter made a capital, {x} reads {y}.",
                  "{x} 写成大写是 {y}。",
                  "{n} 把 {x} 都写成了大写：{y}。"),
    "next_digit": ("Each counter moved up one step, so {x} became {y}, and a 9 went round to 0.",
                   "One more than each of {x} gives {y}, where 9 turns into 0.",
                   "{n} added one to every digit of {x} and wrote {y}; 9 wraps to 0.",
                   "Adding one to each digit of {x} gives {y}, with 9 becoming 0.",
                   "The next digit after each of {x} is {y}.",
                   "{n} shifted each digit of {x} up by one and got {y}.",
                   "Each digit of {x} plus one, modulo ten, is {y}.",
                   "Counting one on from every digit of {x} gives {y}; after 9 comes 0.",
                   "The successors of {x} are {y}.",
                   "{x} 的每个数字加一是 {y}。",
                   "{n} 把 {x} 的每个数字加一，得到 {y}。"),
    "colour_to_chinese": ("The colours {x} are {y} in Chinese.",
                          "In Chinese, {n} says {y} for {x}.",
                          "{n}'s teacher wrote {x} as {y} in Chinese.",
                          "The Chinese words for {x} are {y}.",
                          "Translated into Chinese, the colours {x} are {y}.",
                          "In Chinese characters, {x} is written {y}.",
                          "{n} learnt that {x} is called {y} in Chinese.",
                          "Each colour of {x} in Chinese: {y}.",
                          "The colours {x} translate to {y}.",
                          "{x} 用中文说是 {y}。",
                          "{n} 学会了 {x} 的中文：{y}。"),
    "count_items": ("{n} counted {x}: {y} in all.",
                    "There are {y} things in {x}.",
                    "The list {x} has {y} items.",
                    "The number of items in {x} is {y}.",
                    "{n} counted the words in {x} and found {y}.",
                    "The length of the list {x} is {y}.",
                    "How many things are in {x}? There are {y}.",
                    "In total, {x} has {y} entries.",
                    "Counting the elements of {x} gives {y}."),
    "max_digit": ("Of the numbers {x}, the biggest is {y}.",
                  "{n} looked at {x} and saw that {y} was the highest.",
                  "The largest of {x} is {y}.",
                  "The maximum of {x} is {y}.",
                  "The highest number in {x} is {y}.",
                  "Of {x}, the greatest digit is {y}.",
                  "{n} picked the largest value in {x}: {y}.",
                  "No number in {x} is bigger than {y}.",
                  "The biggest digit of {x} is {y}."),
    "min_digit": ("Of the numbers {x}, the smallest is {y}.",
                  "{n} looked at {x} and saw that {y} was the lowest.",
                  "The least of {x} is {y}.",
                  "The minimum of {x} is {y}.",
                  "The lowest number in {x} is {y}.",
                  "Of {x}, the smallest digit is {y}.",
                  "{n} picked the lowest value in {x}: {y}.",
                  "No number in {x} is smaller than {y}.",
                  "The least digit of {x} is {y}."),
    "first_item": ("In the row {x}, the first one is {y}.",
                   "{n} took the first of {x}, which was {y}.",
                   "The row {x} starts with {y}.",
                   "The first item of {x} is {y}.",
                   "At the start of the list {x} is {y}.",
                   "The first element of {x} is {y}.",
                   "The word that comes first in {x} is {y}.",
                   "{n} copied the opening item of {x}: {y}.",
                   "The list {x} leads with {y}."),
    "last_item": ("In the row {x}, the last one is {y}.",
                  "{n} took the last of {x}, which was {y}.",
                  "The row {x} ends with {y}.",
                  "The last item of {x} is {y}.",
                  "At the end of the list {x} is {y}.",
                  "The final element of {x} is {y}.",
                  "The word that comes last in {x} is {y}.",
                  "{n} copied the closing item of {x}: {y}.",
                  "The list {x} finishes with {y}."),
    "only_colours": ("Among {x}, the colours are {y}.",
                     "{n} picked the colours out of {x}: {y}.",
                     "Leaving out the rest of {x}, the colours were {y}.",
                     "Keeping only the colour words of {x} leaves {y}.",
                     "The colours in {x}, in order, are {y}.",
                     "Without the numbers and animals, {x} becomes {y}.",
                     "{n} filtered {x} down to the colour names: {y}.",
                     "Just the colours of {x}: {y}.",
                     "Dropping everything but colours, {x} gives {y}."),
    "sentiment": ("The review '{x}' sounds {y}.",
                  "{n} wrote '{x}', which is a {y} review.",
                  "Words like {x} make the mood {y}.",
                  "The review '{x}' is {y}.",
                  "The words '{x}' have a {y} tone.",
                  "The sentiment of '{x}' is {y}.",
                  "{n} felt that '{x}' was {y} on balance.",
                  "The mood of '{x}' is {y}.",
                  "Overall the feeling of '{x}' is {y}."),
    "contains_animal": ("Is there an animal in {x}? The answer is {y}.",
                        "{n} checked {x} for animals and said {y}.",
                        "Any animal in {x}? {y}.",
                        "Does {x} mention an animal? {y}.",
                        "Whether an animal appears in {x}: {y}.",
                        "{n} was asked if {x} has an animal, and said {y}.",
                        "An animal among {x}? {y}.",
                        "Is any of {x} an animal? {y}.",
                        "Checking {x} for an animal gives {y}."),
    "word_type": ("The items {x} are of the kinds {y}.",
                  "{n} marked {x} as {y}, for numbers, colours and animals.",
                  "By kind, {x} reads {y}.",
                  "Tagged by type, {x} is {y}.",
                  "Each item of {x} labelled NUM, COL or ANI gives {y}.",
                  "The categories of {x} are {y}.",
                  "{n} tagged {x} item by item: {y}.",
                  "Number, colour or animal: {x} is {y}.",
                  "The kind of each word in {x}: {y}."),
    "digit_parity": ("The digits {x} are {y} by even and odd.",
                     "{n} marked {x} even or odd as {y}.",
                     "Even or odd, {x} reads {y}.",
                     "By parity, {x} is {y}.",
                     "Tagged E for even and O for odd, {x} reads {y}.",
                     "The parity of each digit of {x} is {y}.",
                     "{n} labelled {x} even or odd: {y}.",
                     "E for even, O for odd: {x} gives {y}.",
                     "Even and odd digits of {x}: {y}."),
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


def skill_sentence(rng: random.Random, task: T.Task, p_line: float = 0.3) -> str:
    """One skill in prose. With probability `p_line` the answer goes on a line of its own, as in a
    worked example laid out on paper ("...reads:" newline "1 2 3."), so the base model also knows
    how an answer looks when it starts a line."""
    x = task.make_input(rng, rng.choice((1, 2, 3)))
    pattern = rng.choice(SKILLS[task.name])
    if rng.random() < p_line:
        for before, after in ((": {y}", ":\n{y}"), ("? {y}", "?\n{y}"), (" {y}", ":\n{y}")):
            if before in pattern:
                pattern = pattern.replace(before, after)
                break
    return pattern.format(n=rng.choice(T.NAMES), x=x, y=task.solve(x))


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
