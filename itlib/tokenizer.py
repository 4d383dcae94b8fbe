"""A byte-level BPE tokenizer trained locally in seconds, wrapped as a `transformers` tokenizer.

Byte-level means every string (any Unicode, Chinese included) maps to bytes first, so
decode(encode(text)) == text always holds; BPE then merges frequent byte pairs into tokens.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

PAD, BOS, EOS = "<pad>", "<s>", "</s>"
ROLE_TOKENS = ("<|system|>", "<|user|>", "<|assistant|>")
FIM_TOKENS = ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>")
SEP = "<sep>"
SPECIAL_TOKENS = (PAD, BOS, EOS, *ROLE_TOKENS, *FIM_TOKENS, SEP)

# The chat template. The {% generation %} block marks the tokens that carry loss (the assistant's
# answer and its EOS), so apply_chat_template(..., return_assistant_tokens_mask=True) returns the mask.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for m in messages %}"
    "{% if m['role'] == 'assistant' %}"
    "<|assistant|>\n{% generation %}{{ m['content'] }}{{ eos_token }}{% endgeneration %}"
    "{% else %}"
    "<|{{ m['role'] }}|>\n{{ m['content'] }}\n"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def train_tokenizer(texts: Iterable[str], vocab_size: int = 1024) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE on `texts` and wrap it with pad/bos/eos tokens and the chat template.

    Deterministic for the same texts in the same order.
    """
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(texts, trainer=trainer)
    return wrap(bpe)


def wrap(bpe: Tokenizer) -> PreTrainedTokenizerFast:
    """Wrap a raw `tokenizers.Tokenizer` as a transformers tokenizer with our special tokens."""
    tok = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        pad_token=PAD,
        bos_token=BOS,
        eos_token=EOS,
        additional_special_tokens=[t for t in SPECIAL_TOKENS if t not in (PAD, BOS, EOS)],
        clean_up_tokenization_spaces=False,
    )
    tok.chat_template = CHAT_TEMPLATE
    tok.padding_side = "left"  # left padding for batched generation; training pads by hand
    return tok


def load_tokenizer(folder: str | Path) -> PreTrainedTokenizerFast:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(folder))
    tok.padding_side = "left"
    return tok
