"""Typical wrong answers to notebook 01's q2 and q3 (q1's are in tests/test_exercises.py; the entries here
replace any there for the same exercise)."""

import torch
import torch.nn.functional as F


def _token_logp(logits, ids):
    return F.log_softmax(logits[:, :-1], -1).gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)


# ---- q2: my_example_nll(logits, input_ids, loss_mask) -> (batch,)


def batch_mean(logits, ids, mask):
    from itlib.train import masked_nll

    return masked_nll(logits, ids, mask)


def no_shift(logits, ids, mask):
    logp = F.log_softmax(logits, -1).gather(-1, ids.unsqueeze(-1)).squeeze(-1)
    return -(logp * mask).sum(1) / mask.sum(1)


def row_length(logits, ids, mask):
    return -(_token_logp(logits, ids) * mask[:, 1:]).sum(1) / mask[:, 1:].shape[1]


def whole_batch_count(logits, ids, mask):
    return -(_token_logp(logits, ids) * mask[:, 1:]).sum(1) / mask[:, 1:].sum()


def unshifted_mask(logits, ids, mask):
    m = mask[:, :-1].float()
    return -(_token_logp(logits, ids) * m).sum(1) / m.sum(1)


def wrong_sign(logits, ids, mask):
    m = mask[:, 1:].float()
    return (_token_logp(logits, ids) * m).sum(1) / m.sum(1)


def per_token(logits, ids, mask):
    return -_token_logp(logits, ids) * mask[:, 1:]


# ---- q3: my_make_labels(input_ids, attention_mask, prompt_lens)


def _positions(ids):
    return torch.arange(ids.shape[1]).unsqueeze(0)


def keeps_padding(ids, attention, lens):
    return torch.where(_positions(ids) >= lens.unsqueeze(1), ids, torch.full_like(ids, -100))


def keeps_last_prompt_token(ids, attention, lens):
    keep = (_positions(ids) >= (lens - 1).unsqueeze(1)) & (attention == 1)
    return torch.where(keep, ids, torch.full_like(ids, -100))


def drops_first_answer_token(ids, attention, lens):
    keep = (_positions(ids) > lens.unsqueeze(1)) & (attention == 1)
    return torch.where(keep, ids, torch.full_like(ids, -100))


def inverted(ids, attention, lens):
    keep = (_positions(ids) >= lens.unsqueeze(1)) & (attention == 1)
    return torch.where(keep, torch.full_like(ids, -100), ids)


def zero_fill(ids, attention, lens):
    keep = (_positions(ids) >= lens.unsqueeze(1)) & (attention == 1)
    return torch.where(keep, ids, torch.zeros_like(ids))


def float_labels(ids, attention, lens):
    keep = (_positions(ids) >= lens.unsqueeze(1)) & (attention == 1)
    return torch.where(keep, ids.float(), torch.tensor(-100.0))


def shifted(ids, attention, lens):
    keep = (_positions(ids) >= lens.unsqueeze(1)) & (attention == 1)
    out = torch.full_like(ids, -100)
    out[:, :-1] = torch.where(keep, ids, torch.full_like(ids, -100))[:, 1:]
    return out


WRONG = {
    "nb01.q2": [
        (lambda c: batch_mean, "loss of the whole batch"),
        (lambda c: no_shift, "forgot the shift"),
        (lambda c: row_length, "row's length"),
        (lambda c: whole_batch_count, "WHOLE batch"),
        (lambda c: unshifted_mask, "mask must shift"),
        (lambda c: wrong_sign, "sign is wrong"),
        (lambda c: per_token, "one number per example"),
        (lambda c: 1.3, "pass your function itself"),
    ],
    "nb01.q3": [
        (lambda c: keeps_padding, "padding carries loss"),
        (lambda c: keeps_last_prompt_token, "last prompt token is kept"),
        (lambda c: drops_first_answer_token, "answer's first token got -100"),
        (lambda c: inverted, "inverted"),
        (lambda c: shifted, "do not shift"),
        (lambda c: zero_fill, "is a real token id"),
        (lambda c: float_labels, "integer tensor"),
        (lambda c: "labels", "pass your function itself"),
    ],
}
