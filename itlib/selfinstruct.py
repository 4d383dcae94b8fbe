"""Model-based generation of instruction data, Self-Instruct style (Wang et al., 2022), and its filter.

Rule-based generation is what `itlib.tasks` does: a template (rule for the instruction), an input
generator (rule for the input) and a reference solver (rule for the answer). Model-based generation
asks a model instead:

1. *new instructions*: show the model k instructions of a task and let it write one more
   (`instruction_prompt`, `propose_instructions` -> `Proposal`s);
2. *filter them*: keep a candidate only if it is valid (`instruction_problem`) and its ROUGE-L F1 with
   every instruction already in the pool (the existing ones and the candidates kept before it) is
   below 0.7 (`filter_generated`), as Self-Instruct does;
3. *new instances*: show it an instruction and let it write inputs (`input_prompt`, `propose_instances`
   -> `Instance`s); optionally let it answer them itself, as Self-Instruct does;
4. *filter them*: keep an instance only if its input is valid for the task (`input_problem`, which asks
   the task's reference solver) and, where the model answered, its answer is the reference solver's
   (`instance_problem`). Real Self-Instruct has no reference solver and keeps the model's answers
   unchecked; here the solver can check them, or write them (`Instance.to_example`).

A small model learns steps 1 and 3 from two "meta" tasks made of the suite's own training templates
and inputs (`instruction_examples`, `input_examples`), tuned together with the suite.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from itlib.data import DataError, Example
from itlib.datastats import rouge_l, tokenize
from itlib.tasks import Task, _rng, resolve

__all__ = [
    "NEW_INPUT",
    "NEW_INSTRUCTION",
    "Filtered",
    "InputProfile",
    "Instance",
    "Proposal",
    "Removed",
    "existing_instructions",
    "filter_generated",
    "input_examples",
    "input_problem",
    "input_profile",
    "input_prompt",
    "instance_problem",
    "instruction_examples",
    "instruction_problem",
    "instruction_prompt",
    "instruction_vocabulary",
    "propose_instances",
    "propose_instructions",
    "sample",
]

NEW_INSTRUCTION = "Write one more instruction for the same task as these."
NEW_INPUT = "Write a new input for this instruction."
META_TASKS = ("new_instruction", "new_input")


# ---------------------------------------------------------------------------------------------
# the two meta tasks, as Examples the library can train on


def instruction_prompt(examples: Sequence[str]) -> Example:
    """The prompt 'here are k instructions of one task, write one more', as an Example (its output,
    a placeholder, is what the model will write)."""
    return Example(NEW_INSTRUCTION, "\n".join(examples), "?", task="new_instruction", cluster="meta")


def input_prompt(instruction: str) -> Example:
    """The prompt 'write an input for this instruction', as an Example."""
    return Example(NEW_INPUT, instruction, "?", task="new_input", cluster="meta")


def instruction_examples(tasks=None, n: int = 1000, k: int = 3, seed: int = 0) -> list[Example]:
    """`n` training examples of the meta task 'write one more instruction': k training templates of one
    task as the input, another training template of the same task as the answer. Held-out templates
    never appear. Tasks take turns; a quarter of the prompts of a task with Chinese templates are
    Chinese (with fewer shown when it has fewer than k + 1 training ones)."""
    tasks = resolve(tasks)
    rng = _rng(seed, "selfinstruct", "instructions")
    out = []
    for i in range(n):
        task = tasks[i % len(tasks)]
        held = set(task.heldout_templates())
        pools = [[t for t in task.templates if t not in held], [t for t in task.zh_templates if t not in held]]
        if len(pools[0]) <= k:
            raise ValueError(f"task {task.name} has only {len(pools[0])} training templates; k={k} needs more")
        pool = pools[1] if len(pools[1]) >= 2 and rng.random() < 0.25 else pools[0]
        *shown, target = rng.sample(pool, min(k, len(pool) - 1) + 1)
        ex = instruction_prompt(shown)
        out.append(Example(ex.instruction, ex.input, target, task=ex.task, cluster=ex.cluster))
    return out


def input_examples(tasks=None, n: int = 1000, seed: int = 0) -> list[Example]:
    """`n` training examples of the meta task 'write an input for this instruction': a training template
    as the input, an input drawn by the task's own generator as the answer (difficulties 1-3 in turn)."""
    tasks = resolve(tasks)
    rng = _rng(seed, "selfinstruct", "inputs")
    out = []
    for i in range(n):
        task = tasks[i % len(tasks)]
        ex = input_prompt(rng.choice(task.train_templates()))
        out.append(Example(ex.instruction, ex.input, task.make_input(rng, 1 + (i // len(tasks)) % 3),
                           task=ex.task, cluster=ex.cluster))
    return out


# ---------------------------------------------------------------------------------------------
# sampling


class Proposal(NamedTuple):
    """A generated instruction, and the task whose instructions the model was shown."""

    task: str
    text: str


class Instance(NamedTuple):
    """A generated instance: an instruction, a sampled input and the model's own answer (None when the
    model was not asked to answer)."""

    task: str
    instruction: str
    input: str
    answer: str | None = None

    def to_example(self) -> Example:
        """The instance as a training Example, its output given by the task's reference solver."""
        task = resolve([self.task])[0]
        n = len(self.input.split())
        return Example(self.instruction, self.input, task.solve(self.input), task=task.name, cluster=task.cluster,
                       kind=task.kind, difficulty=min(3, max(1, n // 2)))


def sample(model, tokenizer, prompts: Sequence[Example], n: int, *, fmt: str = "prefix", temperature: float = 0.7,
           top_p: float = 0.9, max_new_tokens: int = 32, seed: int = 0) -> list[list[str]]:
    """`n` sampled answers to each prompt, `model.generate(do_sample=True, ...)` on one left-padded batch;
    each answer is cut at EOS. The seed fixes the draw: the same call gives the same samples."""
    import torch

    from itlib.evaluate import decode_answer
    from itlib.formats import prompt_ids

    device = next(model.parameters()).device
    rows = [prompt_ids(p, tokenizer, fmt) for p in prompts]
    width = max(map(len, rows))
    ids = torch.full((len(rows), width), tokenizer.pad_token_id, dtype=torch.long)
    attn = torch.zeros_like(ids)
    for i, row in enumerate(rows):
        ids[i, width - len(row):] = torch.tensor(row)
        attn[i, width - len(row):] = 1
    torch.manual_seed(seed)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        out = model.generate(input_ids=ids.to(device), attention_mask=attn.to(device), do_sample=True,
                             temperature=temperature, top_p=top_p, top_k=0, max_new_tokens=max_new_tokens,
                             num_return_sequences=n, eos_token_id=tokenizer.eos_token_id,
                             pad_token_id=tokenizer.pad_token_id)
    model.train(was_training)
    texts = [decode_answer(tokenizer, row[width:].tolist()).strip() for row in out]
    return [texts[i * n: (i + 1) * n] for i in range(len(rows))]


def propose_instructions(model, tokenizer, tasks=None, n: int = 10, k: int = 3, seed: int = 0,
                         **sample_kwargs) -> list[Proposal]:
    """`n` new instructions per task, each sampled from a prompt showing k of its training templates
    (English ones; a fresh choice of k for every task)."""
    tasks = resolve(tasks)
    prompts = []
    for task in tasks:
        pool = list(task.templates[: len(task.templates) - task.n_heldout])
        prompts.append(instruction_prompt(_rng(seed, "propose", task.name).sample(pool, k)))
    samples = sample(model, tokenizer, prompts, n, seed=seed, **sample_kwargs)
    return [Proposal(task.name, text) for task, texts in zip(tasks, samples) for text in texts]


def propose_instances(model, tokenizer, instructions: Sequence[Proposal], n: int = 4, seed: int = 0,
                      answer: bool = False, fmt: str = "prefix", **sample_kwargs) -> list[Instance]:
    """For each instruction, `n` sampled inputs; with `answer=True` also the model's own (greedy) answer
    to each, as in Self-Instruct, where the model writes both the input and the output."""
    from itlib.evaluate import generate

    if not instructions:
        return []
    inputs = sample(model, tokenizer, [input_prompt(p.text) for p in instructions], n, seed=seed, fmt=fmt,
                    **sample_kwargs)
    pairs = [(p, x) for p, xs in zip(instructions, inputs) for x in xs]
    if not answer:
        return [Instance(p.task, p.text, x) for p, x in pairs]
    prompts = {}
    for i, (p, x) in enumerate(pairs):
        try:
            prompts[i] = Example(p.text, x, "?")
        except DataError:  # e.g. a NUL character: no answer; `instance_problem` rejects the input
            pass
    answers = dict(zip(prompts, generate(model, tokenizer, list(prompts.values()), fmt)))
    return [Instance(p.task, p.text, x, answers.get(i, "")) for i, (p, x) in enumerate(pairs)]


# ---------------------------------------------------------------------------------------------
# validity


def instruction_vocabulary(tasks=None) -> frozenset:
    """Every word (ROUGE token) of the suite's instruction templates."""
    return frozenset(w for t in existing_instructions(tasks) for w in tokenize(t))


def instruction_problem(text: str, vocabulary: Iterable[str] | None = None, min_words: int = 3,
                        max_words: int = 30) -> str | None:
    """What is wrong with a generated instruction (None = nothing): Self-Instruct-like heuristics
    (empty, prompt markup, too short or long, unfinished), and, with a `vocabulary`, a word outside it
    (a small model's misspellings)."""
    words = tokenize(text)
    if not text.strip():
        return "empty"
    if "Input:" in text or "Answer:" in text or "\n" in text:
        return "contains prompt markup or a line break"
    if len(words) < min_words and not any(ord(c) > 0x2E80 for c in text):
        return f"too short ({len(words)} words)"
    if len(words) > max_words:
        return f"too long ({len(words)} words)"
    if not text.rstrip().endswith((".", "?", "!", "。", "？", "！", ")")):
        return "unfinished (no closing punctuation)"
    if vocabulary is not None:
        vocabulary = vocabulary if isinstance(vocabulary, (set, frozenset)) else set(vocabulary)
        unknown = [w for w in words if w not in vocabulary]
        if unknown:
            return f"unknown word {unknown[0]!r}"
    return None


def instance_problem(instance: Instance) -> str | None:
    """What is wrong with a generated instance (None = nothing): an invalid input for its task
    (`input_problem`), or a model answer (where there is one) that differs from the reference solver's."""
    problem = input_problem(instance.task, instance.input)
    if problem:
        return problem
    if instance.answer is None:
        return None
    reference = resolve([instance.task])[0].solve(instance.input)
    if " ".join(instance.answer.split()) != reference:
        return f"answer {instance.answer!r} but the reference solver says {reference!r}"
    return None


@dataclass(frozen=True)
class InputProfile:
    """What a task's own input generator produces: its vocabulary and the range of input lengths."""

    task: str
    vocabulary: frozenset
    min_len: int
    max_len: int


def input_profile(task: Task | str, n: int = 600, seed: int = 0) -> InputProfile:
    """The profile of `n` inputs drawn from the task's generator at every difficulty."""
    task = resolve([task])[0]
    rng = _rng(seed, "profile", task.name)
    inputs = [task.make_input(rng, 1 + i % 3).split() for i in range(n)]
    return InputProfile(task.name, frozenset(w for x in inputs for w in x), min(map(len, inputs)),
                        max(map(len, inputs)))


_PROFILES: dict[str, InputProfile] = {}


def input_problem(task: Task | str, x: str, profile: InputProfile | None = None) -> str | None:
    """What is wrong with input `x` for `task` (None = a valid input):
    words the task never uses, a length outside the task's range, an input the reference solver
    cannot answer (e.g. no colour to keep), or an ambiguous one (a sentiment tie)."""
    task = resolve([task])[0]
    if profile is None:
        profile = _PROFILES.setdefault(task.name, input_profile(task))
    items = x.split()
    if not items:
        return "empty input"
    unknown = [w for w in items if w not in profile.vocabulary]
    if unknown:
        return f"unknown word {unknown[0]!r} for {task.name}"
    if not profile.min_len <= len(items) <= profile.max_len:
        return f"length {len(items)} outside {profile.min_len}..{profile.max_len}"
    if task.name == "sentiment" and len(items) % 2 == 0:
        return "even number of words (a tie has no right answer)"
    try:
        Example(instruction="-", input=x, output=task.solve(x))
    except DataError:
        return "the reference solver gives an empty answer"
    except Exception as err:  # noqa: BLE001 -- any solver failure makes the input invalid
        return f"the reference solver fails: {type(err).__name__}"
    return None


# ---------------------------------------------------------------------------------------------
# the filter


class Removed(NamedTuple):
    """A candidate the filter removed, why (a short category) and the details."""

    candidate: object
    reason: str
    detail: str = ""


@dataclass
class Filtered:
    """What `filter_generated` kept and what it removed (with reasons), in candidate order."""

    kept: list = field(default_factory=list)
    removed: list[Removed] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Number of candidates per outcome: 'kept' and each removal reason."""
        return {"kept": len(self.kept), **Counter(r.reason for r in self.removed)}

    def table(self):
        """The removed candidates as a pandas table (candidate, reason, detail)."""
        import pandas as pd

        return pd.DataFrame([r._asdict() for r in self.removed], columns=["candidate", "reason", "detail"])


def filter_generated(candidates: Iterable, existing: Iterable, threshold: float = 0.7,
                     validate: Callable[[object], str | None] | None = None,
                     text: Callable[[object], str] | None = None) -> Filtered:
    """Self-Instruct's filter: go through `candidates` in order and keep one only if

    - `validate(candidate)` (when given) returns None; else it is removed as "invalid" with the
      returned problem as detail (a validator may also raise `ValueError`, whose message is the detail);
    - its text (`text(candidate)`, default: the candidate itself or an Example's instruction) is
      not an exact duplicate ("duplicate") of, and has ROUGE-L F1 < `threshold` ("too similar") with,
      every text in the pool: `existing` plus the candidates kept so far.

    Returns `Filtered(kept, removed)`; `removed` holds `Removed(candidate, reason, detail)`.
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    if text is None:
        text = _default_text
    pool = [(t, tokenize(t)) for t in existing]
    seen = {" ".join(toks) for _, toks in pool}
    result = Filtered()
    for cand in candidates:
        if validate is not None:
            try:
                problem = validate(cand)
            except ValueError as err:
                problem = str(err) or type(err).__name__
            if problem:
                result.removed.append(Removed(cand, "invalid", str(problem)))
                continue
        t = text(cand)
        toks = tokenize(t)
        if not toks:
            result.removed.append(Removed(cand, "invalid", "no words"))
            continue
        if " ".join(toks) in seen:
            result.removed.append(Removed(cand, "duplicate", "same words as a text already in the pool"))
            continue
        best, best_text = 0.0, None
        for other, other_toks in pool:
            score = rouge_l(toks, other_toks)
            if score > best:
                best, best_text = score, other
                if score >= threshold:
                    break
        if best >= threshold:
            result.removed.append(Removed(cand, "too similar", f"ROUGE-L {best:.2f} with {best_text!r}"))
            continue
        result.kept.append(cand)
        pool.append((t, toks))
        seen.add(" ".join(toks))
    return result


def _default_text(candidate) -> str:
    if isinstance(candidate, str):
        return candidate
    if isinstance(candidate, (Example, Instance)):
        return candidate.instruction
    if isinstance(candidate, Proposal):
        return candidate.text
    raise TypeError(f"pass text= to say which text of a {type(candidate).__name__} to compare")


def existing_instructions(tasks=None) -> list[str]:
    """Every instruction template of the suite (training, held-out and Chinese ones)."""
    return [t for task in resolve(tasks) for t in task.all_templates()]



# ------------------------------------------------------------------------------------------ real seed tasks

SEED_TASKS_FILE = Path(__file__).parent / "assets" / "self_instruct" / "seed_tasks.jsonl"
"""The 175 human-written seed tasks of Self-Instruct (Wang et al., 2022; Apache-2.0, see LICENSE and
SOURCE.md beside the file), shipped with the package."""


def load_seed_tasks(path: str | Path | None = None) -> list[dict]:
    """The Self-Instruct seed tasks as records: `id`, `name`, `instruction`, `instances` (a list of
    `{input, output}`), `is_classification`. Reads the shipped file unless `path` is given; a
    missing file or a bad record raises one `DataError` naming the file, the record (line) and the field."""
    import json

    path = Path(path) if path is not None else SEED_TASKS_FILE
    if not path.is_file():
        raise DataError("file not found (the Self-Instruct seed tasks ship in itlib/assets/self_instruct/)",
                        path=path)
    records = []
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(f"not valid JSON ({err.msg})", path=path, record=line_no) from None
        for key, kind in (("instruction", str), ("instances", list), ("is_classification", bool)):
            if not isinstance(record.get(key), kind):
                raise DataError(f"must be a {kind.__name__} (got {type(record.get(key)).__name__})",
                                path=path, record=line_no, field=key)
        for inst in record["instances"]:
            if not isinstance(inst, dict) or not isinstance(inst.get("input"), str) \
                    or not isinstance(inst.get("output"), str):
                raise DataError("each instance must be an object with string 'input' and 'output'",
                                path=path, record=line_no, field="instances")
        records.append(record)
    return records


def seed_task_examples(path: str | Path | None = None) -> list[Example]:
    """The seed tasks expanded into one `Example` per instance (task = the record's `name`,
    kind = classification or generation from `is_classification`)."""
    out = []
    for record in load_seed_tasks(path):
        kind = "classification" if record["is_classification"] else "generation"
        name = record.get("name") or record.get("id") or "self_instruct"
        for inst in record["instances"]:
            out.append(Example(record["instruction"], inst["input"], inst["output"], task=name,
                               cluster="self_instruct", kind=kind))
    return out
