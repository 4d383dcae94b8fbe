"""Instruction representation f(X, I): how an instruction I and an input X become one token sequence.

Every format returns token ids and a loss mask. Training minimises

    L = - sum_{t in answer} log P(y_t | f(X, I), y_<t)

so the mask is 1 exactly on the answer tokens Y and the end-of-sequence token, 0 elsewhere.

- prefix:    the instruction and input come first, the answer continues them
- infilling: the answer slot sits *inside* the text, with text after it (a cloze); a decoder
             reads it in fill-in-the-middle order: prefix, suffix, then the middle (the answer)
- seq2seq:   a bare source -> target pair split by a separator (an encoder-decoder would put the
             source into the encoder; a decoder-only model reads it as a prefix LM)
- chat:      the tokenizer's chat template with user / assistant roles; a conversation's earlier
             turns (`Example.history`, with its system message) come first, and every assistant
             turn carries loss, as the template's assistant mask says
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
    """The text f(X, I) up to where the answer starts (what the model sees before it answers).

    For a conversation this is the last exchange only; `segments` gives the earlier turns too."""
    i, x = example.instruction, example.input
    if fmt == "prefix":
        return f"Instruction: {i}\nInput: {x}\nAnswer:\n" if x else f"Instruction: {i}\nAnswer:\n"
    if fmt == "infilling":
        return f"<|fim_prefix|>Input: {x}\nAnswer: <|fim_suffix|>\n(as asked: {i})<|fim_middle|>"
    if fmt == "seq2seq":
        return f"{i}\n{x}<sep>" if x else f"{i}<sep>"
    if fmt == "chat":
        return f"<|user|>\n{user_text(example)}\n<|assistant|>\n"
    if fmt == "insertion":
        return f"{insertion_text(example)}\nAnswer:\n"
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)} (or 'insertion')")


def insertion_text(example: Example, at: int | None = None) -> str:
    """The seed's infilling form f(X, I) = (x_1 ... x_i, [I], x_{i+1} ... x_n): the instruction, in
    brackets, inserted between the input's words, after word `at` (default: the middle, i = n // 2).
    `prompt_text(example, "insertion")` is this text followed by an answer cue. (Not in FORMATS:
    the shipped tokenizer was trained on the four formats there; notebook 01 measures this one.)"""
    words = example.input.split()
    i = len(words) // 2 if at is None else max(0, min(at, len(words)))
    return " ".join([*words[:i], f"[{example.instruction}]", *words[i:]])


def _chat_history(example: Example) -> list[tuple[str, bool]]:
    """The earlier turns of a conversation as (text, trained_on) pieces, in the chat template's layout:
    the assistant's replies are trained on (each followed by EOS), the rest is prompt."""
    pieces, prompt = [], ""
    for role, content in example.history:
        if role == "assistant":
            pieces += [(prompt + "<|assistant|>\n", False), (content, True)]
            prompt = ""
        else:
            prompt += f"<|{role}|>\n{content}\n"
    return pieces + ([(prompt, False)] if prompt else [])


def segments(example: Example, fmt: str = "prefix") -> list[tuple[str, bool]]:
    """f(X, I) as (text, trained_on) pieces: the prompt (no loss), then the answer (loss); each
    trained piece is followed by EOS. For a conversation (chat format only) the earlier turns come
    first, each assistant reply trained on. Adjacent prompt pieces are joined into one."""
    prompt = prompt_text(example, fmt)
    if example.history and fmt != "chat":
        raise ValueError(f"this example is a conversation (a system message or {len(example.history)} "
                         f"earlier turn(s)), which format {fmt!r} has no place for; use fmt='chat' "
                         "(itlib train --fmt chat)")
    pieces = _chat_history(example) if example.history else []
    if pieces and not pieces[-1][1]:
        prompt = pieces.pop()[0] + prompt
    return [*pieces, (prompt, False), (example.output, True)]


def encode(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def _encode_pieces(pieces: list[tuple[str, bool]], tokenizer) -> tuple[list[int], list[int]]:
    """BOS, then each piece tokenised on its own (a trained piece followed by EOS): (ids, loss mask)."""
    ids, mask = [tokenizer.bos_token_id], [0]
    for text, trained in pieces:
        piece = encode(tokenizer, text) + ([tokenizer.eos_token_id] if trained else [])
        ids += piece
        mask += [int(trained)] * len(piece)
    return ids, mask


def render(example: Example, tokenizer, fmt: str = "prefix") -> Rendered:
    """Tokenise f(X, I) + Y + EOS; the loss mask is 1 on Y's tokens and on EOS (for a conversation
    in the chat format, also on every earlier assistant reply and its EOS).

    Prompt and answer are tokenised separately, exactly as at generation time, where the
    model sees the prompt's tokens and produces the answer's.
    """
    ids, mask = _encode_pieces(segments(example, fmt)[:-1], tokenizer)
    answer = encode(tokenizer, example.output) + [tokenizer.eos_token_id]
    return Rendered(ids + answer, mask + [1] * len(answer), len(ids))


def prompt_ids(example: Example, tokenizer, fmt: str = "prefix") -> list[int]:
    """The token ids the model is given when it must produce the answer (for a conversation, the
    earlier turns with their EOS tokens, then the last user turn)."""
    return _encode_pieces(segments(example, fmt)[:-1], tokenizer)[0]


def chat_messages(example: Example) -> list[dict]:
    """The example as chat messages: its earlier turns (system message included), then the user
    asks and the assistant answers."""
    earlier = [{"role": role, "content": content} for role, content in example.history]
    return [*earlier, {"role": "user", "content": user_text(example)},
            {"role": "assistant", "content": example.output}]
