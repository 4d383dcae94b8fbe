"""Pretraining the course's base model: next-token prediction on the synthetic corpus,

    L(theta) = - (1/T) sum_t log P_theta(x_t | x_<t)   over every token of the corpus,

so the model learns the little world (numbers, colours, animals, who likes what) and the skills in
prose form, but never sees an instruction template. `itlib pretrain --out DIR` makes the model
shipped in `itlib/assets/base/`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from itlib.formats import Rendered


@dataclass(frozen=True)
class PretrainConfig:
    """The shipped base model's recipe. Changing it changes the shipped model."""

    n_docs: int = 60_000
    seed: int = 0
    vocab_size: int = 1024
    arch: str = "llama"
    size: str = "tiny"
    seq_len: int = 128
    epochs: float = 3.0
    lr: float = 2e-3
    batch_tokens: int = 1024
    n_eval_docs: int = 500


def pack(docs: list[str], tokenizer, seq_len: int) -> list[Rendered]:
    """Tokenise documents, join them with BOS ... EOS and cut the stream into `seq_len` chunks
    (packing: no padding at all). Every token carries loss."""
    stream: list[int] = []
    for doc in docs:
        stream += [tokenizer.bos_token_id, *tokenizer(doc, add_special_tokens=False)["input_ids"],
                   tokenizer.eos_token_id]
    chunks = [stream[i: i + seq_len] for i in range(0, len(stream) - seq_len + 1, seq_len)]
    return [Rendered(c, [1] * len(c), 0) for c in chunks]


def corpus_splits(config: PretrainConfig = PretrainConfig()) -> tuple[list[str], list[str]]:
    """The pretraining documents and a held-out set of documents (for the corpus loss / forgetting)."""
    from itlib.corpus import make_corpus

    docs = make_corpus(n_docs=config.n_docs + config.n_eval_docs, seed=config.seed)
    return docs[: config.n_docs], docs[config.n_docs:]


def corpus_loss(model, tokenizer, docs: list[str], seq_len: int = 128, batch_size: int = 32) -> float:
    """Mean next-token loss (nats per token) of `model` on `docs`: how well it models the corpus."""
    from itlib.train import mean_nll

    return mean_nll(model, tokenizer, pack(docs, tokenizer, seq_len), batch_size)


def pretrain(out: str | Path, config: PretrainConfig = PretrainConfig(), device: str = "cpu",
             overwrite: bool = False, progress: bool = True, checkpoint_dir: str | Path | None = None):
    """Train the tokenizer and the base model from scratch on the corpus and save an HF folder."""
    from itlib.files import prepare_output
    from itlib.models import build_model, save_model
    from itlib.tokenizer import train_tokenizer
    from itlib.train import fit

    out = prepare_output(out, overwrite=overwrite)  # before training: a folder of the user's is never replaced
    tokenizer = train_tokenizer(suite_texts(config.seed), vocab_size=config.vocab_size)
    train_docs, eval_docs = corpus_splits(config)
    chunks = pack(train_docs, tokenizer, config.seq_len)
    model = build_model(tokenizer, arch=config.arch, size=config.size, seed=config.seed)
    t0 = time.perf_counter()
    result = fit(model, tokenizer, rendered=chunks, epochs=config.epochs, lr=config.lr,
                 batch_tokens=config.batch_tokens, seed=config.seed, device=device, progress=progress,
                 checkpoint_dir=checkpoint_dir, checkpoint_every=200 if checkpoint_dir else 0, resume=bool(checkpoint_dir))
    metrics = {
        "corpus_loss_heldout": round(corpus_loss(model, tokenizer, eval_docs, config.seq_len), 4),
        "train_seconds": round(time.perf_counter() - t0, 1),
        "train_tokens": result.tokens,
        "final_loss": result.losses[-1],
        "config": config.__dict__,
    }
    save_model(model.cpu(), tokenizer, out, metrics=metrics, overwrite=overwrite)
    return out


def suite_texts(seed: int = 0) -> list[str]:
    """The text the course tokenizer is trained on: the pretraining corpus plus task examples in
    every format (training templates only, so held-out phrasings stay unseen)."""
    from itlib.corpus import make_corpus
    from itlib.formats import FORMATS, prompt_text
    from itlib.tasks import make_examples

    texts = make_corpus(n_docs=5000, seed=seed)
    for n, ex in enumerate(make_examples(n_per_task=60, seed=seed)):
        texts += [prompt_text(ex, FORMATS[n % len(FORMATS)]), ex.output]
    return texts


def suite_tokenizer(vocab_size: int = 1024, seed: int = 0):
    """The course tokenizer, trained in a few seconds on `suite_texts()`."""
    from itlib.tokenizer import train_tokenizer

    return train_tokenizer(suite_texts(seed), vocab_size=vocab_size)
