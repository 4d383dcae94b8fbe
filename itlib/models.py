"""Models: tiny Llama- and GPT-2-style causal LMs built with `transformers`, and loading/saving
any Hugging Face causal LM as a plain HF folder."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import torch
from transformers import (
    AutoModelForCausalLM,
    GenerationConfig,
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
)

# width (hidden size), depth (layers), heads, feed-forward size
SIZES = {
    "micro": dict(hidden=64, layers=2, heads=4, ffn=192),
    "tiny": dict(hidden=128, layers=4, heads=4, ffn=384),
    "small": dict(hidden=192, layers=6, heads=6, ffn=576),
}


def tiny_llama(tokenizer, size: str = "tiny", max_len: int = 256, seed: int = 0, **overrides):
    """A Llama-style model (RMSNorm, rotary positions, SwiGLU) with the sizes in `SIZES[size]`."""
    s = {**SIZES[size], **overrides}
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=s["hidden"], num_hidden_layers=s["layers"],
        num_attention_heads=s["heads"], num_key_value_heads=s["heads"], intermediate_size=s["ffn"],
        max_position_embeddings=max_len, tie_word_embeddings=True, **_special_ids(tokenizer),
    )
    return _build(LlamaForCausalLM, config, seed)


def tiny_gpt2(tokenizer, size: str = "tiny", max_len: int = 256, seed: int = 0, **overrides):
    """A GPT-2-style model (LayerNorm, learned positions, GELU MLP) with the sizes in `SIZES[size]`."""
    s = {**SIZES[size], **overrides}
    config = GPT2Config(
        vocab_size=len(tokenizer), n_embd=s["hidden"], n_layer=s["layers"], n_head=s["heads"],
        n_inner=s["ffn"], n_positions=max_len, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
        tie_word_embeddings=True, **_special_ids(tokenizer),
    )
    return _build(GPT2LMHeadModel, config, seed)


def tiny_local_llama(tokenizer, size: str = "tiny", max_len: int = 256, seed: int = 0, window: int = 16,
                     **overrides):
    """The Llama-style model with **sliding-window (local) attention**: position t attends only to the
    `window` positions t - window + 1 ... t (itself included), a banded causal mask -- the simplest sparse
    attention pattern. Each layer reaches `window` - 1 tokens further back, so L layers see
    L · (window - 1) tokens. Everything else (sizes, RMSNorm, rotary positions, SwiGLU) is as in
    `tiny_llama`; `transformers` calls this architecture Mistral (Llama + a sliding window), so the
    folder it saves loads with plain `transformers`."""
    from transformers import MistralConfig, MistralForCausalLM

    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    s = {**SIZES[size], **overrides}
    config = MistralConfig(
        vocab_size=len(tokenizer), hidden_size=s["hidden"], num_hidden_layers=s["layers"],
        num_attention_heads=s["heads"], num_key_value_heads=s["heads"], intermediate_size=s["ffn"],
        head_dim=s["hidden"] // s["heads"], max_position_embeddings=max_len, sliding_window=window,
        tie_word_embeddings=True, **_special_ids(tokenizer),
    )
    return _build(MistralForCausalLM, config, seed)


ARCHITECTURES = {"llama": tiny_llama, "gpt2": tiny_gpt2, "llama-local": tiny_local_llama}


def build_model(tokenizer, arch: str = "llama", size: str = "tiny", seed: int = 0, **overrides):
    """Build a freshly initialised model: `arch` in ARCHITECTURES, `size` in SIZES."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}")
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; choose one of {', '.join(SIZES)}")
    return ARCHITECTURES[arch](tokenizer, size=size, seed=seed, **overrides)


def _special_ids(tokenizer) -> dict:
    return dict(pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                eos_token_id=tokenizer.eos_token_id)


def _build(cls, config, seed: int):
    torch.manual_seed(seed)
    model = cls(config)
    set_generation_config(model, eos_token_id=config.eos_token_id, pad_token_id=config.pad_token_id)
    return model


def set_generation_config(model, eos_token_id: int, pad_token_id: int, max_new_tokens: int = 32):
    """Greedy decoding that stops at EOS: saved with the model so plain `transformers` stops too."""
    model.generation_config = GenerationConfig(
        do_sample=False, eos_token_id=eos_token_id, pad_token_id=pad_token_id, max_new_tokens=max_new_tokens,
    )


def n_params(model, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def with_eager_attention(model):
    """Switch a model to the eager attention implementation, the one that returns attention
    weights (`output_attentions=True` gives an empty tuple under the default sdpa)."""
    model.set_attn_implementation("eager")
    return model


def _looks_like_a_path(name: str) -> bool:
    """A hub id is "name" or "owner/name"; anything else, or an "x/y" whose "x" is a local folder
    (runs/my-model), is a path on this machine."""
    if name.startswith((".", "/", "~")) or "\\" in name or name.count("/") > 1:
        return True
    return "/" in name and Path(name.split("/")[0]).is_dir()


def load_model(path_or_id: str | Path, attention: str | None = None, device: str | None = None):
    """Load any Hugging Face causal LM and its tokenizer from a folder (or a hub id when online).

    `attention="eager"` when attention weights will be read. Returns (model, tokenizer).
    """
    from itlib.tokenizer import load_tokenizer

    path = Path(path_or_id)
    if path.exists() and not (path / "config.json").exists():
        raise FileNotFoundError(f"{path} is not a Hugging Face model folder: it has no config.json")
    if not path.exists() and _looks_like_a_path(str(path_or_id)):
        raise FileNotFoundError(f"model folder {path} does not exist")
    kwargs = {"attn_implementation": attention} if attention else {}
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # no "Loading weights" bar in every notebook cell
    try:
        model = AutoModelForCausalLM.from_pretrained(str(path_or_id), **kwargs)
    except OSError as err:
        if path.exists():
            raise
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise FileNotFoundError(f"{path_or_id!r} is not a folder on this machine, and loading it as a Hugging Face "
                                f"hub id failed ({first})") from None
    tokenizer = load_tokenizer(path_or_id)
    if tokenizer.pad_token is None:  # many hub models have none; generation needs one
        tokenizer.pad_token = tokenizer.eos_token
    if device:
        model.to(device)
    return model.eval(), tokenizer


def save_model(model, tokenizer, folder: str | Path, metrics: dict | None = None, overwrite: bool = False) -> Path:
    """Write a Hugging Face folder (safetensors, config, generation config with EOS, tokenizer with
    chat template, `metrics.json` if given, and itlib's manifest) atomically: into a temporary folder,
    then renamed.

    An existing non-empty folder is only replaced with `overwrite=True`, and only if itlib wrote it
    (`itlib.files.is_itlib_output`); a folder of the user's is never deleted.
    """
    from itlib.files import is_itlib_output, replace_folder, strict_json, write_manifest

    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{folder} already exists and is not empty; pass overwrite=True to replace it")
        if not is_itlib_output(folder):
            raise FileExistsError(f"{folder} was not written by itlib; it is never replaced, even with "
                                  "overwrite=True: choose another folder")
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.new-", dir=folder.parent))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        if metrics is not None:
            (tmp / "metrics.json").write_text(strict_json(metrics, indent=2, ensure_ascii=False), encoding="utf-8")
        write_manifest(tmp, "complete")
        replace_folder(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder
