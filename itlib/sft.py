"""From itlib to TRL: the same supervised fine-tuning (SFT) with `trl.SFTTrainer`, checked token for token.

TRL's `SFTTrainer` is the Hugging Face trainer most people use after a course like this one. It takes a
`datasets.Dataset` of records, tokenises them, and writes a `labels` column that is the token ids where the
loss counts and -100 elsewhere (the model shifts the labels by one itself, exactly as `train.masked_nll`
does with its `loss_mask`). Two of its options are the two loss masks of `itlib.formats.render`:

    itlib fmt   TRL record                             TRL option                  loss on
    "prefix"    {"prompt": f(X, I), "completion": Y}    completion_only_loss=True   Y + EOS
    "chat"      {"messages": [user, assistant]}         assistant_only_loss=True    every {% generation %} block
                                                                                    of the chat template (Y + EOS)

- `to_trl_records(examples, fmt, tokenizer)`: the records TRL expects, built from the same pieces as `render`.
- `sft_config(output_dir, fmt, ...)`: an `SFTConfig` for a small CPU run (fp32, no gradient checkpointing,
  no logging service, nothing saved, no hub).
- `make_trainer(model, tokenizer, examples, fmt, output_dir, ...)`: an `SFTTrainer` on them.
- `trl_masks(trainer)`: (input_ids, loss mask) per record, read from the trainer's processed train dataset
  through its own data collator.
- `compare_masks(...)`: count how many of TRL's sequences equal `render`'s, ids and mask; `shift=1` moves
  TRL's mask one token to the right, which must break the agreement (the check can fail).
- `compare_with_trl(...)`: tune the shipped base with `train.fit` and with `SFTTrainer` on the same data and
  budget; held-out exact match and seconds for each, and for the untuned base.

Nothing here downloads anything: model and tokenizer objects are passed in (`processing_class=tokenizer`).
"""

from __future__ import annotations

import copy
import tempfile
import time
from collections.abc import Sequence

from itlib.data import Example
from itlib.formats import chat_messages, prompt_text, render

__all__ = ["TRL_OPTION", "compare_masks", "compare_with_trl", "make_trainer", "sft_config", "to_trl_records",
           "trl_masks"]

# Which SFTConfig option gives the loss mask of each itlib format.
TRL_OPTION = {"prefix": "completion_only_loss", "chat": "assistant_only_loss"}


def _check_fmt(fmt: str) -> None:
    if fmt not in TRL_OPTION:
        raise ValueError(f"fmt={fmt!r}: the TRL bridge covers {', '.join(TRL_OPTION)} "
                         "(prompt-completion records and chat messages)")


def to_trl_records(examples: Sequence[Example], fmt: str, tokenizer) -> list[dict]:
    """The examples as TRL dataset records.

    - fmt="prefix": prompt–completion pairs {"prompt": BOS + f(X, I), "completion": Y}. TRL tokenises a plain
      string with the tokenizer's own special-token rule, and ours adds no BOS, so the BOS that `render` puts
      first is written into the prompt; TRL appends the EOS to the completion itself.
    - fmt="chat": conversations {"messages": [...]} (earlier turns and system message included); the
      tokenizer's chat template writes BOS, the roles and EOS, and its `{% generation %}` blocks mark the
      assistant tokens.
    """
    _check_fmt(fmt)
    if fmt == "chat":
        return [{"messages": chat_messages(ex)} for ex in examples]
    bos = tokenizer.bos_token or ""
    records = []
    for i, ex in enumerate(examples):
        if ex.history:
            raise ValueError(f"example {i} is a conversation ({len(ex.history)} earlier turn(s)); a prompt–completion "
                             "record has no place for them: use fmt='chat'")
        records.append({"prompt": bos + prompt_text(ex, "prefix"), "completion": ex.output})
    return records


def sft_config(output_dir: str, fmt: str = "prefix", **overrides):
    """An `SFTConfig` for a small CPU run in format `fmt`: the loss-mask option of `TRL_OPTION[fmt]` on,
    fp32 (TRL defaults to bf16), no gradient checkpointing (TRL's default, only slower here), no truncation,
    no packing, no shuffling of the prepared dataset (so record i stays row i), no reporting service, no
    checkpoints, no progress bar. `overrides` are any other `SFTConfig` / `TrainingArguments` fields."""
    import dataclasses

    from trl import SFTConfig

    _check_fmt(fmt)
    names = {f.name for f in dataclasses.fields(SFTConfig)}
    # transformers renamed gradient_checkpointing to activation_checkpointing (the old name warns)
    checkpointing = "activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing"
    settings = {
        "output_dir": str(output_dir), "report_to": "none", "use_cpu": True, "bf16": False,
        checkpointing: False, "max_length": None, "packing": False, "shuffle_dataset": False,
        "save_strategy": "no", "disable_tqdm": True, "dataloader_num_workers": 0, "push_to_hub": False,
        TRL_OPTION[fmt]: True,
    }
    return SFTConfig(**{**settings, **overrides})


def make_trainer(model, tokenizer, examples: Sequence[Example], fmt: str, output_dir: str, **config):
    """A `trl.SFTTrainer` on `examples` written as `to_trl_records(examples, fmt, tokenizer)`, with
    `sft_config(output_dir, fmt, **config)`. The model and tokenizer objects are passed in (no download).
    The model's config and generation config take the tokenizer's BOS, EOS and pad ids (the Trainer would
    do it anyway, with a notice)."""
    from datasets import Dataset
    from datasets.utils.logging import disable_progress_bar
    from transformers import PrinterCallback
    from trl import SFTTrainer

    disable_progress_bar()  # the dataset preparation's map() bars
    for name in ("bos_token_id", "eos_token_id", "pad_token_id"):  # as the Trainer would, without its notice
        value = getattr(tokenizer, name)
        if value is not None:
            for target in (model.config, model.generation_config):
                setattr(target, name, value)
    dataset = Dataset.from_list(to_trl_records(examples, fmt, tokenizer))
    trainer = SFTTrainer(model=model, args=sft_config(output_dir, fmt, **config), train_dataset=dataset,
                         processing_class=tokenizer)
    trainer.remove_callback(PrinterCallback)  # with no progress bar it would print every log line
    return trainer


def _length_grouped() -> dict:
    """The TrainingArguments setting for length-grouped batches (`group_by_length=True` in older transformers)."""
    import dataclasses

    from trl import SFTConfig

    names = {f.name for f in dataclasses.fields(SFTConfig)}
    return ({"train_sampling_strategy": "group_by_length"} if "train_sampling_strategy" in names
            else {"group_by_length": True})


def trl_masks(trainer, batch_size: int = 64) -> list[tuple[list[int], list[int]]]:
    """(input_ids, loss mask) for every row of the trainer's processed train dataset, in order, made by the
    trainer's own data collator: the mask is 1 where `labels != -100`, padding cut off by `attention_mask`.

    Same alignment as `Rendered.loss_mask`: position t is 1 when token t is a target (the model predicts
    it from position t - 1)."""
    data, collate = trainer.train_dataset, trainer.data_collator
    out = []
    for s in range(0, len(data), batch_size):
        batch = collate([data[i] for i in range(s, min(s + batch_size, len(data)))])
        for ids, labels, attn in zip(batch["input_ids"], batch["labels"], batch["attention_mask"]):
            n = int(attn.sum())
            out.append((ids[:n].tolist(), (labels[:n] != -100).long().tolist()))
    return out


def compare_masks(model, tokenizer, examples: Sequence[Example], fmt: str, shift: int = 0,
                  output_dir: str | None = None) -> dict:
    """Let TRL prepare `examples` in format `fmt` and compare each sequence with `render(example, tokenizer,
    fmt)`: {"fmt", "option", "n", "same_ids", "same_mask", "same" (both), "first_difference" (None or the
    first example's index, ids and masks side by side)}.

    `shift` moves TRL's mask `shift` tokens to the right (zeros come in) before comparing: shift=1 is the
    mistake of aligning labels with the *predicting* position instead of the predicted token, and must
    make every comparison fail. The model is not trained; its config takes the tokenizer's special-token ids."""
    with tempfile.TemporaryDirectory(prefix="itlib-trl-") as tmp:
        trainer = make_trainer(model, tokenizer, examples, fmt, output_dir or tmp)
        theirs = trl_masks(trainer)
    if len(theirs) != len(examples):
        raise RuntimeError(f"TRL prepared {len(theirs)} sequences from {len(examples)} examples; rows were dropped "
                           "or added (truncation, packing?), so they cannot be compared one by one")
    same_ids = same_mask = same = 0
    first = None
    for i, (ex, (ids, mask)) in enumerate(zip(examples, theirs)):
        if shift:
            mask = ([0] * shift + mask)[: len(mask)]
        ours = render(ex, tokenizer, fmt)
        ok_ids, ok_mask = ids == ours.input_ids, mask == ours.loss_mask
        same_ids += ok_ids
        same_mask += ok_mask
        same += ok_ids and ok_mask
        if first is None and not (ok_ids and ok_mask):
            first = {"index": i, "trl_ids": ids, "itlib_ids": ours.input_ids, "trl_mask": mask,
                     "itlib_mask": ours.loss_mask}
    return {"fmt": fmt, "option": TRL_OPTION[fmt], "n": len(examples), "same_ids": same_ids,
            "same_mask": same_mask, "same": same, "first_difference": first}


def compare_with_trl(n_train_per_task: int = 60, n_test_per_task: int = 30, epochs: float = 2.0, lr: float = 3e-3,
                     batch_size: int = 16, fmt: str = "prefix", seed: int = 0, threads: int | None = None,
                     progress: bool = False) -> dict:
    """Tune the shipped base on the same suite data in format `fmt` twice — `itlib.train.fit` and
    `trl.SFTTrainer` (`TRL_OPTION[fmt]`: completion_only_loss on prompt–completion pairs for "prefix",
    assistant_only_loss on messages for "chat") — on the same budget, and score each on the held-out inputs
    of seen tasks with `itlib.evaluate.evaluate`.

    Same: examples, passes, peak learning rate, batch size (examples per step, length-grouped batches on
    both sides), AdamW betas (0.9, 0.95) with no weight decay, gradient clipping at 1, warm-up over 5 % of
    the steps then cosine decay to 10 % of the peak, fp32, seed. Not the same: the order of the batches
    (each trainer draws its own), TRL's extra per-step metrics (entropy, token accuracy).

    Returns {"fmt", "n_train", "n_test", "base_exact_match", "runs": [{"trainer", "steps", "seconds",
    "final_loss", "exact_match", "correct"}, ...]}; "seconds" counts preparing the data (tokenising) and
    training, not evaluation. `threads` sets torch's CPU threads for the call (restored afterwards)."""
    import torch

    import itlib
    from itlib.evaluate import evaluate, exact_matches
    from itlib.pipeline import suite_data

    _check_fmt(fmt)
    previous_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        splits = suite_data(n_train_per_task=n_train_per_task, n_test_per_task=n_test_per_task, seed=seed)
        train, test = splits["train"], splits["test_inputs"]
        base, tok = itlib.load_base()
        refs = [ex.output for ex in test]

        def scored(model) -> tuple[float, list[bool]]:
            report = evaluate(model, tok, test, fmt=fmt)
            return report["exact_match"], exact_matches(report["predictions"], refs)

        base_em, _ = scored(base)
        runs = []
        for name, tune in (("itlib.train.fit", _tune_with_itlib), ("trl.SFTTrainer", _tune_with_trl)):
            model = copy.deepcopy(base)
            steps, seconds, final_loss = tune(model, tok, train, fmt, epochs, lr, batch_size, seed, progress)
            model.eval()
            em, correct = scored(model)
            runs.append({"trainer": name, "steps": steps, "seconds": seconds, "final_loss": final_loss,
                         "exact_match": em, "correct": correct})
    finally:
        torch.set_num_threads(previous_threads)
    return {"fmt": fmt, "n_train": len(train), "n_test": len(test), "base_exact_match": base_em, "runs": runs}


def _tune_with_itlib(model, tok, train, fmt, epochs, lr, batch_size, seed, progress) -> tuple[int, float, float]:
    """`itlib.train.fit` with TRL's budget: `batch_size` examples a step (length-grouped), warm-up 5 %,
    clipping at 1, fp32 on the CPU. Returns (steps, seconds including rendering, final loss)."""
    from itlib.train import fit

    t0 = time.perf_counter()
    longest = max(len(render(ex, tok, fmt).input_ids) for ex in train)
    result = fit(model, tok, train, fmt=fmt, epochs=epochs, lr=lr, batch_tokens=batch_size * longest,
                 max_batch=batch_size, warmup=0.05, clip=1.0, seed=seed, device="cpu", precision="fp32",
                 progress=progress)
    return result.steps, time.perf_counter() - t0, result.losses[-1]


def _tune_with_trl(model, tok, train, fmt, epochs, lr, batch_size, seed, progress) -> tuple[int, float, float]:
    """`trl.SFTTrainer` on the same budget as `_tune_with_itlib` (cosine to 10 % of the peak, AdamW betas
    0.9 / 0.95, no weight decay). Returns (steps, seconds including tokenising, final loss)."""
    tok_trl = copy.deepcopy(tok)  # the trainer may change the tokenizer (pad token); keep ours as it is
    with tempfile.TemporaryDirectory(prefix="itlib-trl-") as tmp:
        t0 = time.perf_counter()
        trainer = make_trainer(
            model, tok_trl, train, fmt, tmp, num_train_epochs=epochs, learning_rate=lr,
            per_device_train_batch_size=batch_size, **_length_grouped(),
            lr_scheduler_type="cosine_with_min_lr", lr_scheduler_kwargs={"min_lr_rate": 0.1},
            warmup_steps=0.05, weight_decay=0.0, adam_beta1=0.9, adam_beta2=0.95, max_grad_norm=1.0,
            optim="adamw_torch", seed=seed, data_seed=seed, logging_steps=1, disable_tqdm=not progress)
        out = trainer.train()
        seconds = time.perf_counter() - t0
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    return out.global_step, seconds, losses[-1] if losses else float("nan")
