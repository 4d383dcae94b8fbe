"""The synthetic instruction task suite.

A *task* is a generator of inputs plus a *reference solver* (so every answer is exactly
checkable), a *cluster* (reorder, map, aggregate, select, classify, label), a *kind*
(generation, classification, labelling), a *difficulty* knob (1..3: input length) and at least
eight English instruction *templates*, the last two held out for evaluation. The map cluster
also has Chinese templates (the last one held out).
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from itlib.data import Example

DIGITS = tuple("0123456789")
COLOURS = ("red", "blue", "green", "yellow", "black", "white", "pink", "brown")
COLOURS_ZH = dict(zip(COLOURS, ("红", "蓝", "绿", "黄", "黑", "白", "粉", "棕")))
ANIMALS = ("cat", "dog", "fox", "owl", "bee", "cow", "pig", "hen")
POSITIVE = ("good", "great", "happy", "nice", "lovely", "fun")
NEGATIVE = ("bad", "sad", "awful", "dull", "ugly", "poor")
NAMES = ("Mia", "Leo", "Ava", "Sam", "Noor", "Kai", "Ivy", "Omar", "Lena", "Tom")


@dataclass(frozen=True)
class Task:
    """One instruction task: templates phrase the instruction, `make_input(rng, difficulty)` draws an
    input, `solve(input)` is the reference solver that gives the exact answer."""

    name: str
    cluster: str
    kind: str
    templates: tuple[str, ...]
    make_input: Callable[[random.Random, int], str]
    solve: Callable[[str], str]
    n_heldout: int = 2
    zh_templates: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()

    def all_templates(self) -> list[str]:
        """English templates, then Chinese ones; an Example's `template` indexes this list."""
        return [*self.templates, *self.zh_templates]

    def heldout_templates(self) -> list[str]:
        """Phrasings never used in training: the last `n_heldout` English and the last Chinese one."""
        held = list(self.templates[-self.n_heldout:])
        return held + list(self.zh_templates[-1:])

    def train_templates(self) -> list[str]:
        held = set(self.heldout_templates())
        return [t for t in self.all_templates() if t not in held]

    def example(self, rng: random.Random, difficulty: int, heldout: bool = False, input: str | None = None) -> Example:
        """One Example: a template (from the training or the held-out set), an input, its answer."""
        template = rng.choice(self.heldout_templates() if heldout else self.train_templates())
        x = self.make_input(rng, difficulty) if input is None else input
        return Example(instruction=template, input=x, output=self.solve(x), task=self.name,
                       cluster=self.cluster, kind=self.kind, difficulty=difficulty,
                       template=self.all_templates().index(template))


# ------------------------------------------------------------------------------------- input makers

def length(rng: random.Random, difficulty: int) -> int:
    """Difficulty d -> 2d or 2d+1 items (2-3, 4-5, 6-7)."""
    if difficulty not in (1, 2, 3):
        raise ValueError(f"difficulty must be 1, 2 or 3, got {difficulty!r}")
    return rng.randint(2 * difficulty, 2 * difficulty + 1)


def digits(rng, d):
    return " ".join(rng.choice(DIGITS) for _ in range(length(rng, d)))


def colours(rng, d):
    return " ".join(rng.choice(COLOURS) for _ in range(length(rng, d)))


def words(rng, d):
    pool = COLOURS + ANIMALS
    return " ".join(rng.choice(pool) for _ in range(length(rng, d)))


def mixed(rng, d):
    """Digits, colours and animals mixed (for tagging and filtering)."""
    kinds = (DIGITS, COLOURS, ANIMALS)
    return " ".join(rng.choice(rng.choice(kinds)) for _ in range(length(rng, d)))


def with_colour(rng, d):
    """Mixed items with at least one colour (so the filtered answer is never empty)."""
    items = mixed(rng, d).split()
    items[rng.randrange(len(items))] = rng.choice(COLOURS)
    return " ".join(items)


def review(rng, d):
    """An odd number of sentiment words (no ties), positive or negative with equal chance."""
    n = 2 * d + 1
    positive = rng.random() < 0.5
    n_major = rng.randint(n // 2 + 1, n)
    major, minor = (POSITIVE, NEGATIVE) if positive else (NEGATIVE, POSITIVE)
    items = [rng.choice(major) for _ in range(n_major)] + [rng.choice(minor) for _ in range(n - n_major)]
    rng.shuffle(items)
    return " ".join(items)


def maybe_animal(rng, d):
    """Digits and colours, with an animal in exactly half of the inputs."""
    n = length(rng, d)
    items = [rng.choice(rng.choice((DIGITS, COLOURS))) for _ in range(n)]
    if rng.random() < 0.5:
        items[rng.randrange(n)] = rng.choice(ANIMALS)
    return " ".join(items)


# ------------------------------------------------------------------------------------- reference solvers

def sort_ascending(x: str) -> str:
    return " ".join(sorted(x.split()))


def sort_descending(x: str) -> str:
    return " ".join(sorted(x.split(), reverse=True))


def reverse(x: str) -> str:
    return " ".join(x.split()[::-1])


def uppercase(x: str) -> str:
    return x.upper()


def next_digit(x: str) -> str:
    return " ".join(str((int(c) + 1) % 10) for c in x.split())


def colour_to_chinese(x: str) -> str:
    return " ".join(COLOURS_ZH[c] for c in x.split())


def count_items(x: str) -> str:
    return str(len(x.split()))


def max_digit(x: str) -> str:
    return max(x.split())


def min_digit(x: str) -> str:
    return min(x.split())


def first_item(x: str) -> str:
    return x.split()[0]


def last_item(x: str) -> str:
    return x.split()[-1]


def only_colours(x: str) -> str:
    return " ".join(w for w in x.split() if w in COLOURS)


def sentiment(x: str) -> str:
    pos = sum(w in POSITIVE for w in x.split())
    return "positive" if 2 * pos > len(x.split()) else "negative"


def contains_animal(x: str) -> str:
    return "yes" if any(w in ANIMALS for w in x.split()) else "no"


def word_type(x: str) -> str:
    return " ".join("NUM" if w in DIGITS else "COL" if w in COLOURS else "ANI" for w in x.split())


def digit_parity(x: str) -> str:
    return " ".join("E" if int(c) % 2 == 0 else "O" for c in x.split())


# ------------------------------------------------------------------------------------- the suite

SUITE: tuple[Task, ...] = (
    Task("sort_ascending", "reorder", "generation", (
        "Sort these numbers from smallest to largest.",
        "Put the digits in ascending order.",
        "Arrange the numbers from low to high.",
        "Order the list, lowest first.",
        "Rewrite the numbers in increasing order.",
        "List these digits from the smallest one up.",
        "Could you sort the following numbers in ascending order?",
        "Line the numbers up so that each is no bigger than the next.",
    ), digits, sort_ascending),
    Task("sort_descending", "reorder", "generation", (
        "Sort these numbers from largest to smallest.",
        "Put the digits in descending order.",
        "Arrange the numbers from high to low.",
        "Order the list, biggest first.",
        "Rewrite the numbers in decreasing order.",
        "List these digits from the largest one down.",
        "Could you sort the following numbers in descending order?",
        "Line the numbers up so that each is no smaller than the next.",
    ), digits, sort_descending),
    Task("reverse", "reorder", "generation", (
        "Reverse the order of the items.",
        "Write the list backwards.",
        "Give the items in reverse order.",
        "Read the list from the end to the start.",
        "Flip the order of these words.",
        "Turn the sequence around.",
        "Start from the last item and go back to the first.",
        "Repeat the items, last one first.",
    ), words, reverse),
    Task("uppercase", "map", "generation", (
        "Write every word in capital letters.",
        "Convert the words to uppercase.",
        "Change each word to upper case.",
        "Make all the letters capitals.",
        "Rewrite the text in block capitals.",
        "Capitalise every letter of these words.",
        "Shout these words: put them in all caps.",
        "Turn each lowercase letter into its uppercase form.",
    ), words, uppercase, zh_templates=("把每个单词改成大写。", "请将这些单词全部写成大写字母。", "把下面的词都变成大写。")),
    Task("next_digit", "map", "generation", (
        "Add one to each digit, with 9 becoming 0.",
        "Replace every digit by the next one (9 wraps to 0).",
        "Increase each number by one; after 9 comes 0.",
        "Shift each digit up by one, wrapping 9 around to 0.",
        "Write the digit that follows each one, counting 0 after 9.",
        "Map each digit d to d plus one modulo ten.",
        "For each number give its successor, where 9 is followed by 0.",
        "Bump every digit by one, and let 9 roll over to 0.",
    ), digits, next_digit, zh_templates=("把每个数字加一，9 变成 0。", "每个数字换成下一个数字（9 之后是 0）。", "请把每个数字增加一，9 回到 0。")),
    Task("colour_to_chinese", "map", "generation", (
        "Translate the colour words into Chinese.",
        "Give the Chinese word for each colour.",
        "Write each colour name in Chinese.",
        "Say these colours in Chinese.",
        "Replace every colour by its Chinese name.",
        "Render the colour words in Chinese characters.",
        "What are these colours called in Chinese?",
        "Convert each English colour to the Chinese character for it.",
    ), colours, colour_to_chinese, zh_templates=("把这些颜色翻译成中文。", "用中文写出每个颜色。", "这些颜色用中文怎么说？")),
    Task("count_items", "aggregate", "generation", (
        "How many items are in the list?",
        "Count the items.",
        "Give the number of words in the input.",
        "Say how many things are listed.",
        "Tell me the length of the list.",
        "Count how many entries there are.",
        "What is the total number of items given?",
        "Report the number of elements in the sequence.",
    ), mixed, count_items),
    Task("max_digit", "aggregate", "generation", (
        "What is the largest number?",
        "Give the biggest digit.",
        "Find the maximum of these numbers.",
        "Which number is the highest?",
        "Return the greatest digit in the list.",
        "Pick out the largest value.",
        "Tell me the maximum digit you see.",
        "Name the number that no other number exceeds.",
    ), digits, max_digit),
    Task("min_digit", "aggregate", "generation", (
        "What is the smallest number?",
        "Give the lowest digit.",
        "Find the minimum of these numbers.",
        "Which number is the least?",
        "Return the smallest digit in the list.",
        "Pick out the lowest value.",
        "Tell me the minimum digit you see.",
        "Name the number that is not larger than any other.",
    ), digits, min_digit),
    Task("first_item", "select", "generation", (
        "What is the first item?",
        "Give the item at the start of the list.",
        "Return the first element.",
        "Which word comes first?",
        "Tell me the opening item.",
        "Copy only the first entry.",
        "Name the item that leads the list.",
        "Output the element in position one.",
    ), mixed, first_item),
    Task("last_item", "select", "generation", (
        "What is the last item?",
        "Give the item at the end of the list.",
        "Return the final element.",
        "Which word comes last?",
        "Tell me the closing item.",
        "Copy only the last entry.",
        "Name the item that ends the list.",
        "Output the element in the final position.",
    ), mixed, last_item),
    Task("only_colours", "select", "generation", (
        "Keep only the colour words.",
        "List just the colours, in order.",
        "Remove everything that is not a colour.",
        "Pick out the colours from the list.",
        "Filter the items down to the colour names.",
        "Write the colours and drop the rest.",
        "Which of the items are colours? Keep their order.",
        "Leave out numbers and animals; give the colours only.",
    ), with_colour, only_colours),
    Task("sentiment", "classify", "classification", (
        "Is this review positive or negative?",
        "Classify the sentiment as positive or negative.",
        "Does the text sound positive or negative?",
        "Label the mood of these words: positive or negative.",
        "Decide whether the feeling is positive or negative.",
        "Tell me if the review is positive or negative.",
        "What is the overall tone, positive or negative?",
        "Would you call these words positive or negative on balance?",
    ), review, sentiment, labels=("positive", "negative")),
    Task("contains_animal", "classify", "classification", (
        "Is there an animal in the list? Answer yes or no.",
        "Does the input mention an animal? yes or no.",
        "Answer yes if any item is an animal, otherwise no.",
        "Check for an animal: yes or no?",
        "Do you see an animal among the items? Reply yes or no.",
        "Say yes when the list has an animal and no when it does not.",
        "Is any of these an animal? Answer with yes or no.",
        "Tell me, yes or no, whether an animal appears.",
    ), maybe_animal, contains_animal, labels=("yes", "no")),
    Task("word_type", "label", "labelling", (
        "Tag each item as NUM, COL or ANI.",
        "Label every word: NUM for a number, COL for a colour, ANI for an animal.",
        "Give the type of each item (NUM, COL, ANI).",
        "For each item write NUM, COL or ANI.",
        "Mark each entry with its category: NUM, COL or ANI.",
        "Assign one of NUM, COL, ANI to every item.",
        "What kind is each item? Use NUM, COL and ANI.",
        "Tag the sequence item by item with NUM, COL or ANI.",
    ), mixed, word_type, labels=("NUM", "COL", "ANI")),
    Task("digit_parity", "label", "labelling", (
        "Tag each digit as E for even or O for odd.",
        "Label every number: E if it is even, O if it is odd.",
        "For each digit write E or O by its parity.",
        "Mark each digit even (E) or odd (O).",
        "Give the parity of each digit as E or O.",
        "Assign E to even digits and O to odd digits.",
        "Which digits are even and which odd? Tag them E or O.",
        "Tag the digits one by one with E for even, O for odd.",
    ), digits, digit_parity, labels=("E", "O")),
)

TASKS: dict[str, Task] = {t.name: t for t in SUITE}
CLUSTERS: dict[str, list[str]] = {}
for _t in SUITE:
    CLUSTERS.setdefault(_t.cluster, []).append(_t.name)


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise KeyError(f"unknown task {name!r}; the suite has: {', '.join(TASKS)}")
    return TASKS[name]


def resolve(names) -> list[Task]:
    """Task objects for task names, cluster names or Task objects (None = the whole suite)."""
    if names is None:
        return list(SUITE)
    if isinstance(names, str):
        names = [names]
    out: list[Task] = []
    for n in names:
        if isinstance(n, Task):
            out.append(n)
        elif n in CLUSTERS:
            out += [TASKS[t] for t in CLUSTERS[n]]
        else:
            out.append(get_task(n))
    return out


def _rng(seed: int, *parts) -> random.Random:
    """A generator seeded from `seed` and names, stable across runs (unlike Python's salted hash)."""
    return random.Random(zlib.crc32(repr((seed, *parts)).encode()))


def make_examples(tasks=None, n_per_task: int = 100, seed: int = 0, difficulties=(1, 2, 3),
                  heldout_templates: bool = False) -> list[Example]:
    """`n_per_task` examples of every task, difficulties spread evenly, deterministic from `seed`."""
    out = []
    for task in resolve(tasks):
        rng = _rng(seed, task.name, "examples")
        for i in range(n_per_task):
            out.append(task.example(rng, difficulties[i % len(difficulties)], heldout=heldout_templates))
    return out


def suite_splits(n_train_per_task: int = 300, n_test_per_task: int = 30, seed: int = 0, heldout_tasks=(),
                 tasks=None) -> dict[str, list[Example]]:
    """Train and test splits that never leak:

    - train:          seen tasks, training templates
    - test_inputs:    seen tasks, training templates, inputs never in train      (new inputs)
    - test_templates: seen tasks, held-out templates, inputs never in train      (new phrasings)
    - test_tasks:     tasks in `heldout_tasks` (names or a cluster), any template (new tasks)

    Test inputs are drawn first (equal numbers per difficulty), then training inputs are drawn
    excluding them.
    """
    held = {t.name for t in resolve(list(heldout_tasks))} if heldout_tasks else set()
    splits = {"train": [], "test_inputs": [], "test_templates": [], "test_tasks": []}
    per_level = max(1, n_test_per_task // 3)
    for task in resolve(tasks):
        rng = _rng(seed, task.name, "split")
        if task.name in held:
            splits["test_tasks"] += [task.example(rng, d, heldout=rng.random() < 0.3)
                                     for d in (1, 2, 3) for _ in range(per_level)]
            continue
        taken: set[str] = set()
        for name, heldout in (("test_inputs", False), ("test_templates", True)):
            for d in (1, 2, 3):
                for _ in range(per_level):
                    x = _fresh_input(task, rng, d, taken)
                    taken.add(x)
                    splits[name].append(task.example(rng, d, heldout=heldout, input=x))
        for i in range(n_train_per_task):
            d = (1, 2, 3)[i % 3]
            x = task.make_input(rng, d)
            while x in taken:
                x = task.make_input(rng, d)
            splits["train"].append(task.example(rng, d, input=x))
    _rng(seed, "shuffle").shuffle(splits["train"])
    return splits


def _fresh_input(task: Task, rng: random.Random, difficulty: int, taken: set[str], tries: int = 200) -> str:
    """A test input not used yet; at difficulty 1 the input space can be small, so repeats are
    allowed after `tries` attempts (never an input that is also in train: train excludes `taken`)."""
    for _ in range(tries):
        x = task.make_input(rng, difficulty)
        if x not in taken:
            return x
    return x
