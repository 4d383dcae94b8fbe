"""Exercises for notebook 11: deploying the tuned model (EOS, int8 size, top-p sampling)."""

from __future__ import annotations

import torch

from itlib.exercises.core import Exercise, Wrong, as_number, judge, run_solution

# ---------------------------------------------------------------------------------------------
# q1: diagnose run-on answers

RUN_ON = "2 7 9The digits 4 0 4 0 0 0 0Noor likes most1112 2 4 1 0 0"

_Q1_SOLUTION = """
answer = "eos_token_id"
# Without it, generate() has no token to stop at: every answer runs to max_new_tokens, and the
# pipeline decodes everything with skip_special_tokens=True, so the </s> in the middle disappears.
# itlib.deploy.export always writes it (from the tokenizer) into generation_config.json.
"""

_Q1_WRONG = {
    "max_new_tokens": ("max_new_tokens is why every answer is exactly 32 tokens long: it is the cap that "
                       "finally stops generation. The missing piece is what should have stopped it earlier."),
    "pad_token_id": ("the pad token only fills the short rows of a batch; it plays no part in deciding "
                     "where an answer ends."),
    "bos_token_id": "BOS begins the prompt; the question is what marks the END of an answer.",
    "do_sample": ("greedy or sampled, generation only stops early at the end-of-sequence token; sampling "
                  "changes which tokens come, not when they stop."),
    "temperature": "temperature reshapes the distribution of the next token; it never stops generation.",
    "top_p": "top-p trims the distribution of the next token; it never stops generation.",
    "chat_template": ("the answer starts right (2 7 9 is correct), so the prompt was fine; what is missing "
                      "tells generation where the answer ends."),
    **dict.fromkeys(("eos", "eos_token", "eos_id", "</s>"),
                    "right idea; give the exact field name in generation_config.json (it ends in _id)."),
}


def _check_q1(answer) -> None:
    if not isinstance(answer, str):
        raise Wrong(f"answer with the field's name as a string, e.g. \"max_new_tokens\" "
                    f"(got {type(answer).__name__} {answer!r}).")
    field = answer.strip().strip("\"'").lower().replace("-", "_").replace(" ", "_")
    if not judge(field, "eos_token_id", _Q1_WRONG.items()):
        raise Wrong(f"{answer!r} is not a generation config field that explains this; think about how "
                    f"`generate` knows an answer is finished.")


q1 = Exercise(
    prompt=f"""
**Q1. Recap: diagnose a deployment.** Sections 1 and 2 showed this failure from the inside; here it comes
as a bug report. A colleague loads your exported folder with plain `transformers` and
sends the test prompts through `pipeline("text-generation")`. Every answer is exactly 32 tokens long
and looks like

`{RUN_ON!r}`

where the reference answer is `'2 7 9'`. Which field is missing from the folder's
`generation_config.json` (and `config.json`)? Answer with the field's name as a string.
""",
    checker=_check_q1,
    hints=[
        "The start of the answer is right. So the prompt, the weights and the format are fine: only the end is wrong.",
        ("The model was trained to produce `</s>` after every answer (it carries loss). `generate` stops early "
         "only when it is told which token id that is."),
    ],
    solution=_Q1_SOLUTION,
    solution_value=lambda: run_solution(_Q1_SOLUTION, "answer"),
    wrong_answers=[
        (lambda c: "max_new_tokens", "is the cap"),
        (lambda c: "pad_token_id", "only fills the short rows"),
        (lambda c: "do_sample", "not when they stop"),
        (lambda c: "eos", "exact field name"),
        (lambda c: 2, "as a string"),
    ],
)

# ---------------------------------------------------------------------------------------------
# q2: the size of the int8 model

VOCAB, HIDDEN, FFN, LAYERS = 1024, 128, 384, 4


def int8_size() -> int:
    embedding = VOCAB * HIDDEN * 4                        # nn.Embedding, float32; lm_head shares it
    linear = LAYERS * (4 * HIDDEN * HIDDEN + 3 * HIDDEN * FFN) * 1  # q, k, v, o + gate, up, down: int8
    norms = (2 * LAYERS + 1) * HIDDEN * 4                 # RMSNorm weights, float32
    return embedding + linear + norms


def _float_size() -> int:
    return (VOCAB * HIDDEN + LAYERS * (4 * HIDDEN * HIDDEN + 3 * HIDDEN * FFN) + (2 * LAYERS + 1) * HIDDEN) * 4


_Q2_SOLUTION = """
from itlib.exercises.nb11 import FFN, HIDDEN, LAYERS, VOCAB

embedding = VOCAB * HIDDEN * 4            # nn.Embedding stays float32 (4 bytes); lm_head is tied to it
linear = LAYERS * (4 * HIDDEN * HIDDEN    # q, k, v, o projections
                   + 3 * HIDDEN * FFN)    # gate, up, down of the SwiGLU MLP
linear_bytes = linear * 1                 # int8: 1 byte per weight
norms = (2 * LAYERS + 1) * HIDDEN * 4     # two RMSNorms per layer + the final one, float32
answer = embedding + linear_bytes + norms  # ~1.38 MB (the scales and zero points add a few hundred bytes)
"""


def _check_q2(answer) -> None:
    value = as_number(answer)
    right = int8_size()
    emb_f, emb_i8 = VOCAB * HIDDEN * 4, VOCAB * HIDDEN
    mistakes = [
        (_float_size(), "that is the float32 size: every nn.Linear weight becomes 1 byte (int8) instead of 4."),
        (right - emb_f + emb_i8, ("the embedding is an nn.Embedding, not an nn.Linear: quantize_dynamic leaves it "
                                  "float32 (4 bytes per weight).")),
        (right + emb_i8, ("lm_head is skipped: it shares its weight with the float32 embedding, so it costs "
                          "nothing extra; an int8 copy would add bytes instead of saving them.")),
        (right + emb_f, "lm_head is tied to the embedding: the shared weight is stored once."),
        (right * 8, "that is bits; give the size in bytes."),
        (_float_size() / 4, ("only the nn.Linear weights shrink to 1 byte; the embedding and the norms stay "
                             "float32 (4 bytes).")),
        (right - (2 * LAYERS + 1) * HIDDEN * 4, "you left out the RMSNorm weights (float32, HIDDEN each)."),
    ]
    if judge(value, right, mistakes, same=lambda a, b: abs(a - b) <= 0.002 * b):
        return
    if 0 < value < 100 and abs(value * 1e6 - right) <= 0.05 * right:
        raise Wrong(f"{value} looks like megabytes; give the size in bytes, worked out exactly.")
    if 0.002 * right < abs(value - right) <= 0.05 * right:
        raise Wrong(f"close, but {value:,.0f} bytes is not exact (a size read off a table rounded to 0.1 MB is "
                    f"not enough): count the bytes with the formula, to within 0.2%.")
    raise Wrong(f"you gave {value:,.0f} bytes; count the embedding, the 7 Linear weights per layer and the "
                f"norms separately, with the right bytes per weight for each.")


q2 = Exercise(
    prompt=f"""
**Q2. How big is the int8 model?** The tuned model has a vocabulary of `VOCAB = {VOCAB}`, hidden size
`HIDDEN = {HIDDEN}`, feed-forward size `FFN = {FFN}` and `LAYERS = {LAYERS}` layers (all in `ex`). Each layer has
four attention projections (HIDDEN x HIDDEN), three SwiGLU matrices (HIDDEN x FFN) and two RMSNorm
weight vectors (HIDDEN); one more RMSNorm comes at the end. The output layer `lm_head` shares its weight
with the input embedding. `quantize_int8` turns every `nn.Linear` except `lm_head` into int8 and leaves the
rest in float32. How many bytes do the weights take after quantisation? Ignore the scales and zero points.
""",
    checker=_check_q2,
    hints=[
        "float32 = 4 bytes per weight, int8 = 1 byte. Which modules are nn.Linear? (The embedding is not.)",
        "Tied weights are stored once. Compare your number with the int8 row of the table in section 4 (in MB, rounded).",
    ],
    solution=_Q2_SOLUTION,
    solution_value=lambda: run_solution(_Q2_SOLUTION, "answer"),
    wrong_answers=[
        (lambda c: _float_size(), "float32 size"),
        (lambda c: c - VOCAB * HIDDEN * 3, "not an nn.Linear"),
        (lambda c: c + VOCAB * HIDDEN, "lm_head is skipped"),
        (lambda c: c * 8, "bits"),
        (lambda c: c * 2, "count the embedding"),
        (lambda c: "1.4 MB", "expected a number"),
        (lambda c: 1.4e6, "not exact"),    # the int8 size as the notebook's table and check print it (MB, 1 decimal)
        (lambda c: 1.4, "megabytes"),
    ],
)

# ---------------------------------------------------------------------------------------------
# q3: top-p (nucleus) filtering by hand


def _reference_top_p(probs: torch.Tensor, p: float) -> torch.Tensor:
    from itlib.deploy import next_token_distribution

    return next_token_distribution(torch.log(probs), 1.0, p)


def _cases() -> list[tuple[torch.Tensor, float]]:
    g = torch.Generator().manual_seed(11)
    cases = [(torch.tensor([0.5, 0.3, 0.15, 0.05]), 0.7), (torch.tensor([0.05, 0.3, 0.15, 0.5]), 0.9),
             (torch.tensor([0.1, 0.6, 0.3]), 0.5)]
    for p in (0.6, 0.95):
        cases.append((torch.softmax(torch.randn(2, 12, generator=g) * 2, -1), p))
    return cases


_Q3_SOLUTION = """
import torch

def top_p_filter(probs, p):
    sorted_p, order = probs.sort(dim=-1, descending=True)
    before = sorted_p.cumsum(dim=-1) - sorted_p   # mass of the tokens more likely than this one
    keep_sorted = before < p                      # keep a token while the ones before it sum to < p
    keep = torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)  # back to token order
    kept = probs * keep
    return kept / kept.sum(dim=-1, keepdim=True)  # renormalise
"""


def _check_q3(answer) -> None:
    if not callable(answer):
        raise Wrong(f"pass your function itself (`top_p_filter`), not {type(answer).__name__} {answer!r}.")
    for probs, p in _cases():
        expected = _reference_top_p(probs, p)
        out = answer(probs.clone(), p)
        if not isinstance(out, torch.Tensor):
            raise Wrong(f"return a tensor of probabilities, not {type(out).__name__}.")
        out = out.float()
        if out.shape != probs.shape:
            raise Wrong(f"return one probability per token, shape {tuple(probs.shape)}, not {tuple(out.shape)}.")
        if torch.allclose(out, expected, atol=1e-5):
            continue
        sums = out.sum(-1)
        if not torch.allclose(sums, torch.ones_like(sums), atol=1e-4):
            raise Wrong(f"the kept probabilities must be renormalised to sum to 1 (yours sum to "
                        f"{sums.flatten()[0].item():.3f} for p={p}).")
        if torch.allclose(out.sort(-1, descending=True).values, expected.sort(-1, descending=True).values,
                          atol=1e-5):
            raise Wrong("the right values, in the wrong places: return the probabilities in the original token "
                        "order (map the sorted positions back, e.g. with scatter or an inverse index).")
        kept, expected_kept = (out > 0).sum().item(), (expected > 0).sum().item()
        if kept < expected_kept:
            raise Wrong(f"for probs {probs.flatten()[:4].tolist()}... and p={p} you keep too few tokens: keep the "
                        f"token whose probability makes the running total reach p, too (the nucleus is the "
                        f"smallest set with total >= p).")
        if kept > expected_kept:
            raise Wrong(f"for p={p} you keep too many tokens: stop at the first token where the running total of "
                        f"the most likely tokens reaches p.")
        raise Wrong(f"for probs {probs.flatten()[:4].tolist()}... and p={p}, expected "
                    f"{[round(x, 3) for x in expected.flatten()[:4].tolist()]}..., got "
                    f"{[round(x, 3) for x in out.flatten()[:4].tolist()]}...")


# typical wrong answers to q3 (tests/test_exercises.py runs each through the checker)


def _q3_drops_the_crossing_token(probs, p):
    sorted_p, order = probs.sort(dim=-1, descending=True)
    keep_sorted = sorted_p.cumsum(-1) <= p
    keep = torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)
    kept = probs * keep
    return kept / kept.sum(-1, keepdim=True)


def _q3_not_renormalised(probs, p):
    sorted_p, order = probs.sort(dim=-1, descending=True)
    keep = torch.zeros_like(sorted_p, dtype=torch.bool).scatter(-1, order, sorted_p.cumsum(-1) - sorted_p < p)
    return probs * keep


def _q3_sorted_order(probs, p):
    sorted_p, _ = probs.sort(dim=-1, descending=True)
    kept = sorted_p * (sorted_p.cumsum(-1) - sorted_p < p)
    return kept / kept.sum(-1, keepdim=True)


def _q3_keeps_everything(probs, p):
    return probs


q3 = Exercise(
    prompt="""
**Q3. Top-p by hand.** Sampling with `top_p=p` draws the next token only from the *nucleus*: the smallest
set of most likely tokens whose probabilities add up to at least `p`; the rest get probability 0 and the
kept ones are renormalised. Write `top_p_filter(probs, p)` for a tensor of probabilities (last dimension =
vocabulary, any order) that returns the filtered distribution in the same token order, then
`ex.q3.check(top_p_filter)`. Example: `[0.5, 0.3, 0.15, 0.05]` with `p=0.7` -> `[0.625, 0.375, 0, 0]`.
""",
    checker=_check_q3,
    hints=[
        "Sort descending (`probs.sort(dim=-1, descending=True)` also returns the order), then `cumsum`.",
        ("Keep a token when the tokens *before* it sum to less than p (`cumsum - sorted_p < p`): that keeps "
         "the one that crosses p. Then put the mask back in token order and renormalise."),
    ],
    solution=_Q3_SOLUTION,
    solution_value=lambda: run_solution(_Q3_SOLUTION, "top_p_filter"),
    wrong_answers=[
        (lambda c: _q3_drops_the_crossing_token, "keep too few"),
        (lambda c: _q3_not_renormalised, "renormalised"),
        (lambda c: _q3_sorted_order, "original token order"),
        (lambda c: _q3_keeps_everything, "too many"),
        (lambda c: 0.7, "pass your function itself"),
    ],
)
