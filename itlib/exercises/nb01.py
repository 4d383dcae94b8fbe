"""Exercises for notebook 01: instruction formats f(X, I), loss masks and the masked loss."""

from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F

from itlib.data import Example
from itlib.exercises.core import Exercise, Wrong, judge, run_solution, tensors_close


@lru_cache(maxsize=1)
def course_tokenizer():
    """The course tokenizer (`itlib.pipeline.default_tokenizer()`), loaded once."""
    from itlib.pipeline import default_tokenizer

    return default_tokenizer()


# ---------------------------------------------------------------------------------------------
# q1: how many tokens carry loss?

EXAMPLE = Example(instruction="Tag each word with its type.", input="seven red cats",
                  output="NUM COL ANI")
FMT = "prefix"


def _rendered():
    from itlib.formats import render

    return render(EXAMPLE, course_tokenizer(), FMT)


_Q1_SOLUTION = """
from itlib.exercises.nb01 import EXAMPLE, FMT, course_tokenizer
from itlib.formats import render

r = render(EXAMPLE, course_tokenizer(), FMT)
answer = sum(r.loss_mask)   # the answer's tokens + the EOS token
"""


def _check_q1(answer) -> None:
    if isinstance(answer, bool) or not isinstance(answer, int):
        if hasattr(answer, "loss_mask") or isinstance(answer, (list, tuple)):
            raise Wrong("give the number of tokens (an int), e.g. `sum(r.loss_mask)`, not the sequence.")
        if isinstance(answer, float) and answer.is_integer():
            answer = int(answer)
        else:
            raise Wrong(f"expected a whole number of tokens, got {type(answer).__name__} {answer!r}.")
    r = _rendered()
    n = sum(r.loss_mask)
    mistakes = [
        (n - 1, "off by one: the answer's tokens AND the end-of-sequence token carry loss; the model must "
                "learn to stop."),
        (n + 1, "off by one: the answer's tokens and the EOS token carry loss, nothing else (not the BOS "
                "token, not the last prompt token)."),
        (len(r.input_ids), f"{answer} is the whole sequence; the prompt's {r.prompt_len} tokens carry no loss."),
        (r.prompt_len, f"{answer} is the prompt length: those are exactly the tokens that carry NO loss."),
    ]
    if judge(answer, n, mistakes):
        return
    words = len(EXAMPLE.output.split())
    if answer in (words, words + 1):
        raise Wrong("count tokens, not words: tokenise with the course tokenizer (or read "
                    "`render(...).loss_mask`).")
    raise Wrong(f"you gave {answer}; render the example and count the 1s in its loss mask.")


q1 = Exercise(
    prompt=f"""
**Q1. Where is the loss?** Render `ex.EXAMPLE` (instruction {EXAMPLE.instruction!r}, input
{EXAMPLE.input!r}, output {EXAMPLE.output!r}) in the `{FMT!r}` format with the course tokenizer
(`ex.course_tokenizer()`). How many of its tokens carry loss? Answer with an int.
""",
    checker=_check_q1,
    hints=[
        ("`itlib.formats.render(example, tokenizer, fmt)` returns `input_ids`, a 0/1 `loss_mask` of "
         "the same length, and `prompt_len`."),
        ("Loss is on what the model must produce: the answer's tokens, and one more token that "
         "tells it to stop."),
    ],
    solution=_Q1_SOLUTION,
    solution_value=lambda: run_solution(_Q1_SOLUTION, "answer"),
    wrong_answers=[
        (lambda c: c - 1, "end-of-sequence token"),
        (lambda c: c + 1, "nothing else"),
        (lambda c: [1] * c, "not the sequence"),
        (lambda c: 0.5, "whole number"),
    ],
)

# ---------------------------------------------------------------------------------------------
# q2: the masked loss, one number per example

_Q2_SOLUTION = """
import torch.nn.functional as F

def my_example_nll(logits, input_ids, loss_mask):
    logp = F.log_softmax(logits[:, :-1].float(), dim=-1)     # position t-1 predicts token t
    target = input_ids[:, 1:]
    mask = loss_mask[:, 1:].float()                          # the mask moves with the targets
    token_logp = logp.gather(-1, target.unsqueeze(-1)).squeeze(-1)
    return -(token_logp * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)   # one mean per row
"""


def _test_batch():
    """Random logits (2, 7, 11), token ids and a loss mask with a prompt part and an answer part;
    the two rows have answers of different lengths (3 and 5 tokens)."""
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 7, 11, generator=g)
    ids = torch.randint(0, 11, (2, 7), generator=g)
    mask = torch.tensor([[0, 0, 0, 1, 1, 1, 0], [0, 0, 1, 1, 1, 1, 1]])
    return logits, ids, mask


def _reference_q2(logits, ids, mask):
    logp = F.log_softmax(logits[:, :-1].float(), dim=-1).gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    m = mask[:, 1:].float()
    return -(logp * m).sum(1) / m.sum(1)


def _mistakes(logits, ids, mask) -> list[tuple[object, str]]:
    """The per-example loss as the usual mistakes compute it, each with what is wrong."""
    logp = F.log_softmax(logits.float(), dim=-1)
    shifted = logp[:, :-1].gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    unshifted = logp.gather(-1, ids.unsqueeze(-1)).squeeze(-1)
    m, m_all, m_unshifted = mask[:, 1:].float(), mask.float(), mask[:, :-1].float()
    right = -(shifted * m).sum(1) / m.sum(1)
    return [
        (-right, "the sign is wrong: the loss is the NEGATIVE log-likelihood, so it is positive and lower is "
                 "better."),
        (-(unshifted * m_all).sum(1) / m_all.sum(1),
         "forgot the shift: the logits at position t predict token t+1, so compare logits[:, :-1] "
         "with input_ids[:, 1:] (you predict token t from position t)."),
        (-(shifted * m).sum(1) / m.shape[1],
         "divided by the row's length instead of its number of masked tokens: each example's loss is "
         "the mean over ITS tokens with loss_mask = 1."),
        (-shifted.mean(1), "averaged over all of the row's tokens, mask ignored: only positions with "
                           "loss_mask = 1 (the answer and EOS) count."),
        (-(shifted * m).sum(1), "summed instead of averaged: divide each row's sum by its number of tokens "
                                "with loss_mask = 1."),
        (-(shifted * m_unshifted).sum(1) / m_unshifted.sum(1),
         "the mask must shift with the targets: use loss_mask[:, 1:] alongside input_ids[:, 1:]."),
        (-(shifted * m).sum(1) / m.sum(),
         "divided every row by the number of masked tokens in the WHOLE batch: divide each row by its own "
         "count, loss_mask[:, 1:].sum(dim=1)."),
    ]


def _check_q2(answer) -> None:
    from itlib.train import masked_nll

    if not callable(answer):
        raise Wrong(f"pass your function itself, e.g. `check(my_example_nll)` (got {type(answer).__name__}).")
    logits, ids, mask = _test_batch()
    out = answer(logits.clone(), ids.clone(), mask.clone())
    if not isinstance(out, torch.Tensor):
        raise Wrong(f"return a torch tensor, not {type(out).__name__}.")
    expected = _reference_q2(logits, ids, mask)
    if out.numel() == 1:
        batch_mean = float(masked_nll(logits, ids, mask))
        if abs(float(out) - batch_mean) <= 1e-4 * max(1.0, abs(batch_mean)):
            raise Wrong("that is the loss of the whole batch (training's masked_nll), one number; return "
                        f"one number per example, a tensor of shape ({ids.shape[0]},).")
        raise Wrong(f"return one number per example, a tensor of shape ({ids.shape[0]},), not a single number.")
    if tuple(out.shape) != (ids.shape[0],):
        raise Wrong(f"return one number per example, a tensor of shape ({ids.shape[0]},), not "
                    f"{tuple(out.shape)}: average each row's masked tokens into one number.")
    out = out.detach().float()
    if judge(out, expected, _mistakes(logits, ids, mask), same=tensors_close(1e-4, 1e-4)):
        return
    raise Wrong(f"on a random batch your losses are {[round(v, 4) for v in out.tolist()]}, the per-example "
                f"masked NLL is {[round(v, 4) for v in expected.tolist()]}.")


# typical wrong answers to q2 (tests/test_exercises.py runs each through the checker)


def _q2_token_logp(logits, ids):
    return F.log_softmax(logits[:, :-1], -1).gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)




def _q2_batch_mean(logits, ids, mask):
    from itlib.train import masked_nll

    return masked_nll(logits, ids, mask)


def _q2_no_shift(logits, ids, mask):
    logp = F.log_softmax(logits, -1).gather(-1, ids.unsqueeze(-1)).squeeze(-1)
    return -(logp * mask).sum(1) / mask.sum(1)


def _q2_row_length(logits, ids, mask):
    return -(_q2_token_logp(logits, ids) * mask[:, 1:]).sum(1) / mask[:, 1:].shape[1]


def _q2_whole_batch_count(logits, ids, mask):
    return -(_q2_token_logp(logits, ids) * mask[:, 1:]).sum(1) / mask[:, 1:].sum()


def _q2_unshifted_mask(logits, ids, mask):
    m = mask[:, :-1].float()
    return -(_q2_token_logp(logits, ids) * m).sum(1) / m.sum(1)


def _q2_wrong_sign(logits, ids, mask):
    m = mask[:, 1:].float()
    return (_q2_token_logp(logits, ids) * m).sum(1) / m.sum(1)


def _q2_per_token(logits, ids, mask):
    return -_q2_token_logp(logits, ids) * mask[:, 1:]


q2 = Exercise(
    prompt="""
**Q2. The masked loss, one number per example.** Training averages over all answer tokens of a batch.
To find the examples a model finds hardest, you need each example's own loss. Write
`my_example_nll(logits, input_ids, loss_mask)`: `logits` has shape (batch, length, vocab), `input_ids`
and `loss_mask` (0/1) have shape (batch, length). Return a tensor of shape (batch,): for each example,
the mean negative log-likelihood of *its* tokens with `loss_mask = 1`, each predicted from the
position before it. Check it with `ex.q2.check(my_example_nll)`.
""",
    checker=_check_q2,
    hints=[
        ("`torch.nn.functional.log_softmax(logits, dim=-1)` gives log-probabilities; `.gather(-1, ids)` "
         "picks the one of each target token."),
        ("Position t-1 predicts token t: use `logits[:, :-1]` with `input_ids[:, 1:]` and "
         "`loss_mask[:, 1:]`. Then reduce along the length only (`dim=1`): each row's masked sum divided "
         "by that row's number of 1s."),
    ],
    solution=_Q2_SOLUTION,
    solution_value=lambda: run_solution(_Q2_SOLUTION, "my_example_nll"),
    wrong_answers=[
        (lambda c: _q2_batch_mean, "loss of the whole batch"),
        (lambda c: _q2_no_shift, "forgot the shift"),
        (lambda c: _q2_row_length, "row's length"),
        (lambda c: _q2_whole_batch_count, "WHOLE batch"),
        (lambda c: _q2_unshifted_mask, "mask must shift"),
        (lambda c: _q2_wrong_sign, "sign is wrong"),
        (lambda c: _q2_per_token, "one number per example"),
        (lambda c: 1.3, "pass your function itself"),
    ],
)

# ---------------------------------------------------------------------------------------------
# q3: labels for transformers' own loss, from prompt lengths

_Q3_SOLUTION = """
import torch

def my_make_labels(input_ids, attention_mask, prompt_lens):
    positions = torch.arange(input_ids.shape[1]).unsqueeze(0)          # (1, length)
    answer = (positions >= prompt_lens.unsqueeze(1)) & (attention_mask == 1)   # after the prompt, not padding
    # keep the token id where the token carries loss, -100 (= ignore) everywhere else;
    # no shift: the model shifts labels by one position itself
    return torch.where(answer, input_ids, torch.full_like(input_ids, -100))
"""


def _q3_batch():
    """Two right-padded rows: prompt (BOS + prompt tokens), answer + EOS, padding (id 0)."""
    ids = torch.tensor([[1, 40, 41, 42, 7, 8, 2, 0], [1, 50, 51, 9, 10, 11, 2, 0]])
    attention = torch.tensor([[1, 1, 1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 1, 1, 1, 0]])
    prompt_lens = torch.tensor([4, 3])
    mask = torch.tensor([[0, 0, 0, 0, 1, 1, 1, 0], [0, 0, 0, 1, 1, 1, 1, 0]])
    return ids, attention, prompt_lens, mask


def _after(ids, attention, lens, offset=0, padding=False):
    positions = torch.arange(ids.shape[1]).unsqueeze(0)
    keep = positions >= (lens + offset).unsqueeze(1)
    if not padding:
        keep &= attention == 1
    return torch.where(keep, ids, torch.full_like(ids, -100))


def _check_q3(answer) -> None:
    if not callable(answer):
        raise Wrong(f"pass your function itself, e.g. `check(my_make_labels)` (got {type(answer).__name__}).")
    ids, attention, lens, mask = _q3_batch()
    out = answer(ids.clone(), attention.clone(), lens.clone())
    if not isinstance(out, torch.Tensor):
        try:
            out = torch.as_tensor(out)
        except (TypeError, ValueError, RuntimeError):
            raise Wrong(f"return a tensor of labels, not {type(out).__name__}.") from None
    expected = torch.where(mask == 1, ids, torch.full_like(ids, -100))
    if tuple(out.shape) == (ids.shape[0], ids.shape[1] - 1):
        raise Wrong("do not shift: transformers shifts the labels by one position itself (position t-1 "
                    "predicts label t); give labels the same shape as input_ids.")
    if out.shape != ids.shape:
        raise Wrong(f"labels must have the shape of input_ids, {tuple(ids.shape)}, not {tuple(out.shape)}.")
    if out.is_floating_point() or out.dtype == torch.bool:
        raise Wrong(f"labels are token ids, so an integer tensor (torch.long), not {out.dtype}; "
                    "cross-entropy refuses float targets.")
    out = out.long()
    shifted = torch.full_like(ids, -100)
    shifted[:, :-1] = expected[:, 1:]
    cases = [  # (wrong labels, what is wrong)
        (torch.where(mask == 1, torch.full_like(ids, -100), ids),
         ("inverted: -100 marks the positions to IGNORE, so it goes on the prompt and padding; the "
          "answer tokens and EOS keep their ids.")),
        (_after(ids, attention, lens, padding=True),
         ("the padding carries loss here: a position with attention_mask 0 is not part of the example, "
          "so it gets -100 too.")),
        (_after(ids, attention, lens, offset=-1),
         ("off by one: the last prompt token is kept. prompt_len counts the prompt's tokens (BOS "
          "included), so the answer starts AT index prompt_len.")),
        (_after(ids, attention, lens, offset=1),
         ("off by one: the answer's first token got -100. prompt_len counts the prompt's tokens, so "
          "index prompt_len is already the answer's first token.")),
        (shifted, ("do not shift: transformers shifts the labels by one position itself, so the "
                   "labels line up with input_ids, not with the next token.")),
        (mask.long(), "labels are token ids (the targets), not a 0/1 mask."),
        (ids, ("with labels = input_ids every token carries loss, the prompt and padding included; "
               "put -100 before prompt_len and on the padding.")),
    ]
    for fill in (0, ids[0, -1].item()):
        cases.append((torch.where(mask == 1, ids, torch.full_like(ids, fill)),
                      (f"{fill} is a real token id, so the model would be trained to predict it; "
                       "the value that cross-entropy ignores is -100.")))
    if judge(out, expected, cases, same=torch.equal):
        return
    if torch.equal(out == -100, mask == 0):
        raise Wrong("-100 is in the right places, but the kept positions must hold the token ids "
                    "from input_ids.")
    raise Wrong(f"for input_ids {ids[0].tolist()}, attention_mask {attention[0].tolist()} and prompt_len "
                f"{int(lens[0])} the labels are {expected[0].tolist()}; yours are {out[0].tolist()}.")


# typical wrong answers to q3


def _q3_positions(ids):
    return torch.arange(ids.shape[1]).unsqueeze(0)


def _q3_keeps_padding(ids, attention, lens):
    return torch.where(_q3_positions(ids) >= lens.unsqueeze(1), ids, torch.full_like(ids, -100))


def _q3_keeps_last_prompt_token(ids, attention, lens):
    keep = (_q3_positions(ids) >= (lens - 1).unsqueeze(1)) & (attention == 1)
    return torch.where(keep, ids, torch.full_like(ids, -100))


def _q3_drops_first_answer_token(ids, attention, lens):
    keep = (_q3_positions(ids) > lens.unsqueeze(1)) & (attention == 1)
    return torch.where(keep, ids, torch.full_like(ids, -100))


def _q3_inverted(ids, attention, lens):
    keep = (_q3_positions(ids) >= lens.unsqueeze(1)) & (attention == 1)
    return torch.where(keep, torch.full_like(ids, -100), ids)


def _q3_zero_fill(ids, attention, lens):
    keep = (_q3_positions(ids) >= lens.unsqueeze(1)) & (attention == 1)
    return torch.where(keep, ids, torch.zeros_like(ids))


def _q3_float_labels(ids, attention, lens):
    keep = (_q3_positions(ids) >= lens.unsqueeze(1)) & (attention == 1)
    return torch.where(keep, ids.float(), torch.tensor(-100.0))


def _q3_shifted(ids, attention, lens):
    keep = (_q3_positions(ids) >= lens.unsqueeze(1)) & (attention == 1)
    out = torch.full_like(ids, -100)
    out[:, :-1] = torch.where(keep, ids, torch.full_like(ids, -100))[:, 1:]
    return out


q3 = Exercise(
    prompt="""
**Q3. Labels for transformers, without a loss mask.** A Hugging Face causal LM computes the masked loss
itself when you pass `labels=`: a tensor shaped like `input_ids`, holding the token id where the token
carries loss and `-100` (ignored by cross-entropy) everywhere else. Often you do not have a loss mask,
only each example's prompt length (`Rendered.prompt_len`: BOS + prompt tokens) and the batch's
`attention_mask` (1 = real token, 0 = padding on the right). Write
`my_make_labels(input_ids, attention_mask, prompt_lens)` — the first two are `(batch, length)` tensors,
`prompt_lens` a `(batch,)` tensor — and check it with `ex.q3.check(my_make_labels)`.
""",
    checker=_check_q3,
    hints=[
        ("Which tokens carry loss? Those at index `prompt_len` or later (the answer and EOS) that are not "
         "padding. `torch.arange(length)` compared with `prompt_lens.unsqueeze(1)` gives a (batch, length) "
         "boolean."),
        ("Combine that boolean with `attention_mask == 1`, then `torch.where(keep, input_ids, -100)`. Do not "
         "shift anything: the model shifts the labels by one position itself."),
    ],
    solution=_Q3_SOLUTION,
    solution_value=lambda: run_solution(_Q3_SOLUTION, "my_make_labels"),
    wrong_answers=[
        (lambda c: _q3_keeps_padding, "padding carries loss"),
        (lambda c: _q3_keeps_last_prompt_token, "last prompt token is kept"),
        (lambda c: _q3_drops_first_answer_token, "answer's first token got -100"),
        (lambda c: _q3_inverted, "inverted"),
        (lambda c: _q3_shifted, "do not shift"),
        (lambda c: _q3_zero_fill, "is a real token id"),
        (lambda c: _q3_float_labels, "integer tensor"),
        (lambda c: "labels", "pass your function itself"),
    ],
)
