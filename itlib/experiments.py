"""Experiments in miniature: what the model brings to instruction tuning (notebook 10).

Each experiment trains several small models the same way and scores them the same way, so that
one thing changes at a time:

- `size_sweep`       model size (width / depth), same data and the same steps (hence the same tokens)
- `arch_compare`     Llama-style vs GPT-2-style at (about) the same size
- `pretrain_mini`    a base model pretrained on `n_docs` documents of the course corpus
- `pretrain_sweep`   bases pretrained on more and more corpus, each tuned the same way
- `cluster_ablation` FLAN's ablation: tune on 1, 3, 5 task clusters (fixed budget), score a held-out cluster
- `template_ablation` T0's ablation: k templates per task, scored on held-out phrasings (median, spread)
- `few_examples`     few examples on the pretrained base vs the same few from scratch
- `prose_accuracy`   how well a model states a skill in prose, as its corpus does (the base's ceiling)

All training goes through `itlib.train.fit`, all scoring through `itlib.evaluate.evaluate` plus
`heldout_loss` (the masked answer NLL on test examples: a smooth score that moves before exact
match does).
"""

from __future__ import annotations

import copy
import dataclasses
import random

from itlib.evaluate import evaluate
from itlib.pipeline import suite_data
from itlib.train import fit

# Short runs (~100 k tokens): smaller batches and a slightly higher learning rate than the full recipe
# (itlib.pipeline.RECIPES) give more steps for the same tokens; measured on the suite, 2 CPU cores.
TUNE = {"lr": 3e-3, "batch_tokens": 512}


def steps_to_epochs(n_examples: int, steps: int, batch_tokens: int, tokens_per_example: int = 40) -> float:
    """Epochs that give about `steps` optimiser steps, so runs on different N get the same compute."""
    per_epoch = max(1, round(n_examples * tokens_per_example / batch_tokens))
    return steps / per_epoch


# ------------------------------------------------------------------------------------- scoring


def heldout_loss(model, tokenizer, examples, fmt: str = "prefix", batch_size: int = 64) -> float:
    """Mean negative log-likelihood per answer token (answer + EOS) of the reference answers of
    `examples`: the training loss, measured on held-out examples, averaged over all their tokens."""
    from itlib.formats import render
    from itlib.train import mean_nll

    return mean_nll(model, tokenizer, [render(ex, tokenizer, fmt) for ex in examples], batch_size)


def tune_and_score(model, tokenizer, train, test, *, epochs: float, fmt: str = "prefix", seed: int = 0,
                   progress: bool = False, **fit_kwargs) -> dict:
    """`fit` `model` on `train` (in place), then exact match and held-out loss on `test`."""
    from itlib.models import n_params

    kwargs = {**TUNE, **fit_kwargs}
    res = fit(model, tokenizer, train, fmt=fmt, epochs=epochs, seed=seed, progress=progress, **kwargs)
    report = evaluate(model, tokenizer, test, fmt=fmt)
    return {"params": n_params(model), "steps": res.steps, "tokens": res.tokens,
            "seconds": round(res.seconds, 1), "exact_match": report["exact_match"],
            "heldout_loss": heldout_loss(model, tokenizer, test, fmt)}


# ------------------------------------------------------------------------------------- model size


def _size_spec(size) -> tuple[str, str, dict]:
    """A size given as a name in SIZES, or as a dict of overrides on top of `base` (default "micro")."""
    from itlib.models import SIZES

    if isinstance(size, str):
        return size, size, {}
    spec = dict(size)
    base = spec.pop("base", "micro")
    label = spec.pop("name", None) or "h{}-L{}".format(spec.get("hidden", SIZES[base]["hidden"]),
                                                      spec.get("layers", SIZES[base]["layers"]))
    return label, base, spec


def size_sweep(tokenizer, train, test, sizes=("micro", "tiny", "small"), arch: str = "llama",
               epochs: float = 1.0, seed: int = 0, progress: bool = False, **fit_kwargs):
    """Models of increasing size trained from scratch on the same data with the same steps (the batch
    plan depends only on the data, so the token count is the same too). `sizes`: names in
    `itlib.models.SIZES` or dicts of overrides, e.g. {"hidden": 32, "layers": 1} (on top of micro).
    Returns a DataFrame, one row per size."""
    import pandas as pd

    from itlib.models import SIZES, build_model

    rows = []
    for size in sizes:
        label, base, overrides = _size_spec(size)
        shape = {**SIZES[base], **overrides}
        model = build_model(tokenizer, arch=arch, size=base, seed=seed, **overrides)
        row = tune_and_score(model, tokenizer, train, test, epochs=epochs, seed=seed, progress=progress,
                             **fit_kwargs)
        rows.append({"size": label, "hidden": shape["hidden"], "layers": shape["layers"], **row})
    return pd.DataFrame(rows)


def arch_compare(tokenizer, train, test, archs=("llama", "gpt2"), size="micro", epochs: float = 1.0,
                 seed: int = 0, progress: bool = False, **fit_kwargs):
    """The same size in each architecture, trained from scratch the same way. Returns a DataFrame."""
    import pandas as pd

    from itlib.models import build_model

    rows = []
    for arch in archs:
        label, base, overrides = _size_spec(size)
        model = build_model(tokenizer, arch=arch, size=base, seed=seed, **overrides)
        row = tune_and_score(model, tokenizer, train, test, epochs=epochs, seed=seed, progress=progress,
                             **fit_kwargs)
        rows.append({"arch": arch, "size": label, **row})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------- pretraining data

_CORPUS: dict = {}


def corpus(n_eval_docs: int = 200) -> tuple[list[str], list[str]]:
    """The shipped base's pretraining documents and the first `n_eval_docs` of its held-out documents
    (the same held-out set for every base, so corpus losses compare). Cached."""
    if "docs" not in _CORPUS:
        from itlib.pretrain import corpus_splits

        _CORPUS["docs"] = corpus_splits()
    train_docs, eval_docs = _CORPUS["docs"]
    return train_docs, eval_docs[:n_eval_docs]


def pretrain_mini(tokenizer, n_docs: int, size="tiny", arch: str = "llama", epochs: float = 1.0,
                  lr: float = 2e-3, batch_tokens: int = 1024, seed: int = 0, progress: bool = False):
    """A base model pretrained (next-token loss on every token, `itlib.pretrain`'s recipe) on the first
    `n_docs` documents of the course corpus; `n_docs=0` gives the untrained model. Returns
    (model, info) with info = n_docs, pretrain_tokens, seconds, corpus_loss (on held-out documents)."""
    from itlib.models import build_model
    from itlib.pretrain import corpus_loss, pack

    train_docs, eval_docs = corpus()
    if n_docs > len(train_docs):
        raise ValueError(f"n_docs={n_docs}: the corpus has {len(train_docs)} training documents")
    _label, base, overrides = _size_spec(size)
    model = build_model(tokenizer, arch=arch, size=base, seed=seed, **overrides)
    tokens, seconds = 0, 0.0
    if n_docs:
        chunks = pack(train_docs[:n_docs], tokenizer, seq_len=128)
        res = fit(model, tokenizer, rendered=chunks, epochs=epochs, lr=lr, batch_tokens=batch_tokens,
                  seed=seed, progress=progress)
        tokens, seconds = res.tokens, res.seconds
    info = {"n_docs": n_docs, "pretrain_tokens": tokens, "pretrain_seconds": round(seconds, 1),
            "corpus_loss": corpus_loss(model, tokenizer, eval_docs)}
    return model.eval(), info


def shipped_base_info(model, tokenizer) -> dict:
    """The shipped base's pretraining numbers (from its metrics.json) and its held-out corpus loss."""
    import json

    import itlib
    from itlib.pretrain import corpus_loss

    metrics = json.loads((itlib.BASE_DIR / "metrics.json").read_text())
    return {"n_docs": metrics["config"]["n_docs"], "pretrain_tokens": metrics["train_tokens"],
            "pretrain_seconds": metrics["train_seconds"],
            "corpus_loss": corpus_loss(model, tokenizer, corpus()[1])}


def pretrain_sweep(tokenizer, train, test, doc_counts=(0, 1000, 4000), size="tiny", arch: str = "llama",
                   shipped=None, scratch=None, pretrain_epochs: float = 1.0, epochs: float = 1.0,
                   seed: int = 0, progress: bool = False, **fit_kwargs):
    """Bases pretrained on more and more of the corpus (`pretrain_mini`), each then instruction-tuned
    on the same `train` with the same steps and scored on `test`. `shipped`: the shipped base model
    (same tokenizer) to add as the point with the most pretraining data. `scratch`: the scores of the
    same size already trained from scratch on the same data with the same recipe (a `size_sweep` row),
    reused for `n_docs = 0` instead of training it again. Returns a DataFrame."""
    import pandas as pd

    rows = []
    keys = ("params", "steps", "tokens", "seconds", "exact_match", "heldout_loss")
    for n in doc_counts:
        model, info = pretrain_mini(tokenizer, n, size=size, arch=arch, epochs=pretrain_epochs, seed=seed,
                                    progress=progress)
        if n == 0 and scratch is not None:
            row = {k: scratch[k] for k in keys}
        else:
            row = tune_and_score(model, tokenizer, train, test, epochs=epochs, seed=seed, progress=progress,
                                 **fit_kwargs)
        rows.append({"base": f"{n} docs" if n else "none (scratch)", **info, **row})
    if shipped is not None:
        info = shipped_base_info(shipped, tokenizer)
        row = tune_and_score(copy.deepcopy(shipped), tokenizer, train, test, epochs=epochs, seed=seed,
                             progress=progress, **fit_kwargs)
        rows.append({"base": "shipped", **info, **row})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------- tasks and templates


def cluster_order(heldout_cluster: str, seed: int = 0) -> list[str]:
    """The clusters other than `heldout_cluster`, in a seeded random order (added one by one)."""
    from itlib.tasks import CLUSTERS

    if heldout_cluster not in CLUSTERS:
        raise ValueError(f"unknown cluster {heldout_cluster!r}; the suite has {', '.join(CLUSTERS)}")
    others = [c for c in CLUSTERS if c != heldout_cluster]
    random.Random(seed).shuffle(others)
    return others


def cluster_mix(pool, clusters, n_train: int, seed: int = 0) -> list:
    """`n_train` examples from `pool`, split evenly over the tasks of `clusters` (a fixed total budget
    however many clusters), shuffled."""
    from itlib.tasks import CLUSTERS

    tasks = [t for c in clusters for t in CLUSTERS[c]]
    share = [n_train // len(tasks) + (i < n_train % len(tasks)) for i in range(len(tasks))]
    out = []
    for task, n in zip(tasks, share):
        mine = [ex for ex in pool if ex.task == task]
        if len(mine) < n:
            raise ValueError(f"task {task!r} has {len(mine)} examples in the pool, {n} needed")
        out += mine[:n]
    random.Random(seed).shuffle(out)
    return out


def cluster_ablation(model, tokenizer, heldout_cluster: str = "classify", n_clusters=(1, 3, 5),
                     n_train: int = 1200, n_test_per_task: int = 30, order=None, epochs: float = 1.0,
                     seed: int = 0, progress: bool = False, **fit_kwargs):
    """FLAN's ablation in miniature: tune copies of `model` on the tasks of the first k clusters of
    `order` (k in `n_clusters`; default `cluster_order`), always `n_train` examples in all and the same
    passes, and score on the tasks of `heldout_cluster`, which no run trains on. Also scores new
    inputs of the tasks each run did train on. k = 0 scores the untuned `model`. Returns a DataFrame,
    one row per k."""
    import pandas as pd

    from itlib.models import n_params
    from itlib.tasks import CLUSTERS

    order = list(order) if order is not None else cluster_order(heldout_cluster, seed)
    if heldout_cluster in order:
        raise ValueError(f"the held-out cluster {heldout_cluster!r} cannot be in the training order")
    if max(n_clusters) > len(order):
        raise ValueError(f"{max(n_clusters)} clusters asked for, {len(order)} available besides "
                         f"{heldout_cluster!r}")
    fewest_tasks = min(len(CLUSTERS[c]) for c in order[: max(1, min(n_clusters))])
    splits = suite_data(n_train_per_task=-(-n_train // fewest_tasks), n_test_per_task=n_test_per_task,
                        seed=seed, heldout_tasks=(heldout_cluster,))
    heldout = splits["test_tasks"]
    rows = []
    for k in n_clusters:
        clusters = order[:k]
        if k == 0:  # the untuned model, for reference
            rows.append({"n_clusters": 0, "clusters": "(not tuned)", "n_tasks": 0, "n_train": 0,
                         "params": n_params(model), "steps": 0, "tokens": 0, "seconds": 0.0,
                         "exact_match": evaluate(model, tokenizer, heldout)["exact_match"],
                         "heldout_loss": heldout_loss(model, tokenizer, heldout),
                         "exact_match_seen": float("nan")})
            continue
        train = cluster_mix(splits["train"], clusters, n_train, seed)
        seen = [ex for ex in splits["test_inputs"] if ex.cluster in clusters]
        tuned = copy.deepcopy(model)
        row = tune_and_score(tuned, tokenizer, train, heldout, epochs=epochs, seed=seed, progress=progress,
                             **fit_kwargs)
        rows.append({"n_clusters": k, "clusters": "+".join(clusters),
                     "n_tasks": len({ex.task for ex in train}), "n_train": len(train), **row,
                     "exact_match_seen": evaluate(tuned, tokenizer, seen)["exact_match"]})
    return pd.DataFrame(rows)


def with_k_templates(examples, k: int, seed: int = 0) -> list:
    """The same examples (same inputs and answers), re-phrased so that each task uses exactly `k` of
    its training templates (the same nested choice for every k: the first k of a seeded shuffle of
    its English training templates), taken in turn so that each is used equally often."""
    from itlib.tasks import get_task

    chosen: dict[str, list[str]] = {}
    used: dict[str, int] = {}
    out = []
    for ex in examples:
        if ex.task not in chosen:
            task = get_task(ex.task)
            english = [t for t in task.train_templates() if t in task.templates]
            if k > len(english):
                raise ValueError(f"task {ex.task!r} has {len(english)} English training templates, "
                                 f"k={k} asked for")
            random.Random(f"{seed}-{ex.task}").shuffle(english)
            chosen[ex.task] = english[:k]
        template = chosen[ex.task][used.get(ex.task, 0) % k]
        used[ex.task] = used.get(ex.task, 0) + 1
        out.append(dataclasses.replace(ex, instruction=template,
                                       template=get_task(ex.task).all_templates().index(template)))
    return out


def heldout_phrasings(n_inputs: int = 9, tasks=None, seed: int = 0) -> list:
    """Every held-out English template of every task with the same new inputs each (the suite's
    `test_templates` inputs, `n_inputs` rounded up to a multiple of 3: as many per difficulty), so
    that each phrasing gets its own score."""
    from itlib.tasks import get_task

    n_inputs = 3 * -(-max(1, n_inputs) // 3)
    splits = suite_data(n_train_per_task=0, n_test_per_task=n_inputs, seed=seed)
    out = []
    by_task: dict[str, list] = {}
    for ex in splits["test_templates"]:
        by_task.setdefault(ex.task, []).append(ex)
    for name, exs in by_task.items():
        if tasks is not None and name not in tasks:
            continue
        task = get_task(name)
        picked = exs[:n_inputs]
        for template in task.templates[-task.n_heldout:]:
            index = task.all_templates().index(template)
            out += [dataclasses.replace(ex, instruction=template, template=index) for ex in picked]
    return out


def per_template(model, tokenizer, examples, fmt: str = "prefix") -> dict[tuple[str, int], dict]:
    """Exact match and held-out loss of each (task, template) group of `examples`."""
    from itlib.evaluate import normalise

    report = evaluate(model, tokenizer, examples, fmt=fmt)
    groups: dict[tuple[str, int], list[int]] = {}
    for i, ex in enumerate(examples):
        groups.setdefault((ex.task, ex.template), []).append(i)
    out = {}
    for key, idx in groups.items():
        hits = [normalise(report["predictions"][i]) == normalise(examples[i].output) for i in idx]
        out[key] = {"exact_match": sum(hits) / len(hits),
                    "heldout_loss": heldout_loss(model, tokenizer, [examples[i] for i in idx], fmt)}
    return out


def template_ablation(model, tokenizer, train, ks=(1, 3, 6), n_inputs: int = 9, epochs: float = 1.0,
                      seed: int = 0, progress: bool = False, **fit_kwargs):
    """T0's ablation in miniature: copies of `model` tuned on the same examples phrased with k templates
    per task (`with_k_templates`), same steps, then scored on each held-out phrasing separately
    (`heldout_phrasings`). Returns a DataFrame with one row per (k, task, template): exact match and
    held-out loss of that phrasing."""
    import pandas as pd

    tasks = sorted({ex.task for ex in train})
    test = heldout_phrasings(n_inputs, tasks=tasks, seed=seed)
    rows = []
    for k in ks:
        tuned = copy.deepcopy(model)
        res = fit(tuned, tokenizer, with_k_templates(train, k, seed), epochs=epochs, seed=seed,
                  progress=progress, **{**TUNE, **fit_kwargs})
        for (task, template), scores in per_template(tuned, tokenizer, test).items():
            rows.append({"k": k, "task": task, "template": template, **scores, "steps": res.steps})
    return pd.DataFrame(rows)


def spread(df, by: str = "k", value: str = "exact_match"):
    """Median, quartiles, interquartile range, min and max of `value` per `by` (T0's plots)."""
    g = df.groupby(by)[value]
    out = g.median().to_frame("median")
    out["q1"], out["q3"] = g.quantile(0.25), g.quantile(0.75)
    out["iqr"] = out["q3"] - out["q1"]
    out["min"], out["max"], out["mean"] = g.min(), g.max(), g.mean()
    return out


# ------------------------------------------------------------------------------------- few examples


def covering_sample(pool, n: int, seed: int = 0) -> list:
    """`n` examples from `pool` that cover it evenly: the tasks take turns; each task takes its
    phrasings (templates) in turn, and for each phrasing the difficulty it has had least of so far.
    With 16 examples per task a plain random draw leaves some training phrasings unseen."""
    rng = random.Random(seed)
    groups: dict[str, dict[int, dict[int, list]]] = {}  # task -> template -> difficulty -> examples
    for ex in rng.sample(list(pool), len(pool)):
        groups.setdefault(ex.task, {}).setdefault(ex.template, {}).setdefault(ex.difficulty, []).append(ex)
    order = {task: rng.sample(sorted(by_t), len(by_t)) for task, by_t in groups.items()}
    taken = {task: {} for task in groups}  # task -> difficulty -> how many taken
    turn = dict.fromkeys(groups, 0)
    out: list = []
    while len(out) < min(n, len(pool)):
        for task in sorted(groups):
            templates = [t for t in order[task] if any(groups[task][t].values())]
            if not templates or len(out) >= n:
                continue
            by_level = groups[task][templates[turn[task] % len(templates)]]
            level = min((d for d in by_level if by_level[d]), key=lambda d: taken[task].get(d, 0))
            out.append(by_level[level].pop())
            taken[task][level] = taken[task].get(level, 0) + 1
            turn[task] += 1
    rng.shuffle(out)
    return out


def prose_accuracy(model, tokenizer, task_name: str, difficulty: int = 1, n: int = 40,
                   seed: int = 0) -> float:
    """How well a model knows a skill *in prose*, the way its corpus states it: the share of `n`
    corpus sentences ("Of the numbers 3 8 5, the biggest is") whose greedy continuation is exactly the
    reference answer, then the sentence's full stop (on the same line or, as the corpus also writes
    it, after a colon on the next). Only patterns that end in the answer are used.
    For the base this is the ceiling few instruction examples can carry over to the instruction layout."""
    import torch

    from itlib.corpus import SKILLS
    from itlib.tasks import get_task

    task, rng = get_task(task_name), random.Random(seed)
    patterns = [p for p in SKILLS[task_name] if p.endswith(("{y}.", "{y}。"))]
    was_training = model.training
    model.eval()
    hits = 0
    for _ in range(n):
        x = task.make_input(rng, difficulty)
        prefix = rng.choice(patterns).split("{y}")[0].format(n=rng.choice(("Mia", "Tom", "Ava")), x=x)
        prompt = tokenizer(prefix.rstrip(), add_special_tokens=False)["input_ids"]
        ids = torch.tensor([[tokenizer.bos_token_id, *prompt]])
        with torch.no_grad():
            out = model.generate(input_ids=ids.to(model.device), max_new_tokens=40, do_sample=False,
                                 pad_token_id=tokenizer.pad_token_id)
        text = tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True).lstrip(" :\n")
        hits += text.startswith((task.solve(x) + ".", task.solve(x) + "。"))
    model.train(was_training)
    return hits / n


def few_examples(ns=(16, 64, 256), steps: int = 150, seed: int = 0, n_test_per_task: int = 12,
                 batch_tokens: int = 1024, lr: float = 1e-3, draws: int = 1, sample: str = "covering",
                 progress: bool = False) -> list[dict]:
    """The seed's claim that a *small number* of instruction examples suffices — on a pretrained base.

    For each N (examples in all, over every task) and each of `draws` draws of N examples: tune the
    shipped base on them, and train the same architecture from scratch on the same N, with the same
    number of steps and the same learning rate; exact match on held-out inputs of seen tasks.
    `sample="covering"` draws the N to cover tasks, phrasings and difficulties evenly
    (`covering_sample`), `"random"` draws them uniformly. Returns one row per (N, draw, start), with
    exact match overall and by difficulty.
    The defaults (about 150 steps at lr 1e-3) suit the base: many more steps over so few examples
    overfit them (benchmarks/few_examples.py and the README hold the measurements)."""
    import itlib
    from itlib.models import build_model

    if sample not in ("covering", "random"):
        raise ValueError(f"sample must be 'covering' or 'random', not {sample!r}")
    base, tok = itlib.load_base()
    splits = suite_data(n_train_per_task=max(ns) // 4 + 16, n_test_per_task=n_test_per_task, seed=seed)
    rows = []
    for n in ns:
        epochs = steps_to_epochs(n, steps, batch_tokens)
        for draw in range(draws):
            if sample == "covering":
                train = covering_sample(splits["train"], n, seed=seed + draw)
            else:
                train = random.Random(seed + draw).sample(splits["train"], n)
            starts = {"pretrained base": copy.deepcopy(base),
                      "from scratch": build_model(tok, arch="llama", size="tiny", seed=seed)}
            for start, model in starts.items():
                res = fit(model, tok, train, epochs=epochs, lr=lr, batch_tokens=batch_tokens, seed=seed,
                          progress=progress)
                report = evaluate(model, tok, splits["test_inputs"])
                rows.append({"N": n, "draw": draw, "sample": sample, "start": start,
                             "exact_match": report["exact_match"], "per_difficulty": report["per_difficulty"],
                             "steps": res.steps, "seconds": round(res.seconds, 1)})
    return rows
