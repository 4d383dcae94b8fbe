"""Instruction representation f(X, I): how an instruction I and an input X become one token sequence.

Every format returns token ids and a loss mask. Training minimises

    L = - sum_{t in answer} log P(y_t | f(X, I), y_<t)

so the mask is 1 exactly on the answer tokens Y and the end-of-sequence token, 0 elsewhere.

- prefix:    the instruction and input come first, the answer continues them
- infilling: the answer slot sits *inside* the text, with text after it (a cloze); a decoder
             reads it in fill-in-the-middle order: prefix, suffix, then the middle (the answer)
- seq2seq:   a bare source -> target pair split by a separator (an encoder-decoder would put the
             source into the encoder; a decoder-only model reads it as a prefix LM)
- chat:      the tokenizer's chat template with user / assistant roles
"""

from __future__ import annotations

from dataclasses import dataclass

from itlib.data import Example

FORMATS = ("prefix", "infilling", "seq2seq", "chat")


@dataclass(frozen=True)
class Rendered:
    """A rendered example: `input_ids`, a 0/1 `loss_mask` of the same length, and `prompt_len`,
    the number of leading tokens the model is given at generation time."""

    input_ids: list[int]
    loss_mask: list[int]
    prompt_len: int


def user_text(example: Example) -> str:
    """The user's turn: the instruction, then the input after a blank line (if there is one)."""
    return f"{example.instruction}\n\n{example.input}" if example.input else example.instruction


def prompt_text(example: Example, fmt: str = "prefix") -> str:
    """The text f(X, I) up to where the answer starts (what the model sees before it answers)."""
    i, x = example.instruction, example.input
    if fmt == "prefix":
        return f"Instruction: {i}\nInput: {x}\nAnswer:\n" if x else f"Instruction: {i}\nAnswer:\n"
    if fmt == "infilling":
        return f"<|fim_prefix|>Input: {x}\nAnswer: <|fim_suffix|>\n(as asked: {i})<|fim_middle|>"
    if fmt == "seq2seq":
        return f"{i}\n{x}<sep>" if x else f"{i}<sep>"
    if fmt == "chat":
        return f"<|user|>\n{user_text(example)}\n<|assistant|>\n"
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def segments(example: Example, fmt: str = "prefix") -> list[tuple[str, bool]]:
    """f(X, I) as (text, trained_on) pieces: the prompt (no loss), then the answer (loss)."""
    return [(prompt_text(example, fmt), False), (example.output, True)]


def encode(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def render(example: Example, tokenizer, fmt: str = "prefix") -> Rendered:
    """Tokenise f(X, I) + Y + EOS; the loss mask is 1 on Y's tokens and on EOS.

    Prompt and answer are tokenised separately, exactly as at generation time, where the
    model sees the prompt's tokens and produces the answer's.
    """
    prompt = [tokenizer.bos_token_id] + encode(tokenizer, prompt_text(example, fmt))
    answer = encode(tokenizer, example.output) + [tokenizer.eos_token_id]
    return Rendered(prompt + answer, [0] * len(prompt) + [1] * len(answer), len(prompt))


def prompt_ids(example: Example, tokenizer, fmt: str = "prefix") -> list[int]:
    """The token ids the model is given when it must produce the answer."""
    return [tokenizer.bos_token_id] + encode(tokenizer, prompt_text(example, fmt))


def chat_messages(example: Example) -> list[dict]:
    """The example as chat messages (user asks, assistant answers)."""
    return [{"role": "user", "content": user_text(example)}, {"role": "assistant", "content": example.output}]
