"""Deploy: ship the tuned model as a plain Hugging Face folder, serve it, and make it cheaper on a CPU.

- `export(model, tok, folder, fmt)`: `models.save_model` (atomic; refuses to overwrite) plus what
  serving needs: a generation config that stops at EOS, and a chat template that writes a user's
  message in the format `fmt` the model was tuned with, so plain `transformers` users get the
  training prompt from `apply_chat_template` / `pipeline("text-generation")`.
- `load_for_serving(folder)`: a `transformers` text-generation pipeline, nothing from itlib.
- `answer_in_fresh_process(folders, messages)`: run `SERVE_SCRIPT` (plain transformers) in a new
  Python process and return its answers: the check that the folder alone is enough.
- decoding: `generate_ids` (greedy or sampling, with or without EOS), `serve_text` (what a plain
  server returns: every new token decoded), `next_token_distribution` (temperature + top-p by hand).
- `ChatWidget`: ipywidgets chat with the tuned model (same format as tuning), testable headlessly.
- `measure_latency`: batch-1 latency per answer, tokens/s and batched throughput.
- `quantize_int8`, `model_size_bytes`, `folder_size_bytes`: CPU int8 dynamic quantisation,
      W ≈ s · W_int8,  s = max|W| / 127.5,  W_int8 = clamp(round(W / s), -128, 127)
  (per tensor, symmetric: zero point 0 -- torch's default weight observer for dynamic quantisation);
  activations are quantised on the fly at each call, asymmetric (affine):
      x ≈ s_x · (x_uint8 - z_x),  s_x = (max x - min x) / 255;
  the tied embedding stays float32.
"""

from __future__ import annotations

import copy
import html
import json
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import torch

from itlib.data import Example
from itlib.evaluate import decode_answer
from itlib.formats import FORMATS, prompt_ids
from itlib.models import save_model
from itlib.widgets import StaticHTMLBox, ipywidgets_module

__all__ = [
    "SERVE_SCRIPT", "ChatWidget", "answer_in_fresh_process", "chat_template_for", "export", "folder_size_bytes",
    "generate_ids", "load_for_serving", "measure_latency", "model_size_bytes", "next_token_distribution",
    "quantize_int8", "serve_text",
]

# ============================================================================ export / load

# One Jinja template per format. A user's message is "instruction" or "instruction\n\ninput" (the
# same split as `formats.user_text`); the template writes it exactly as `formats.prompt_text` does,
# so apply_chat_template(..., add_generation_prompt=True) gives the token ids the model was tuned on.
_USER = "{% set parts = m['content'].split('\\n\\n', 1) %}{% set i = parts[0] %}"
_HAS_INPUT = "{% if parts|length > 1 %}"
_NL = "{{ '\\n' }}"  # a newline right after a block tag would be eaten (transformers sets trim_blocks)
_TURN = {
    "prefix": (_USER + "Instruction: {{ i }}\n" + _HAS_INPUT + "Input: {{ parts[1] }}\n{% endif %}Answer:\n"),
    "infilling": (_USER + "<|fim_prefix|>Input: " + _HAS_INPUT + "{{ parts[1] }}{% endif %}"
                  + _NL + "Answer: <|fim_suffix|>\n(as asked: {{ i }})<|fim_middle|>"),
    "seq2seq": _USER + "{{ i }}" + _HAS_INPUT + _NL + "{{ parts[1] }}{% endif %}<sep>",
    "chat": "<|user|>\n{{ m['content'] }}\n<|assistant|>\n",
}


def chat_template_for(fmt: str = "prefix") -> str:
    """A chat template that renders user turns in format `fmt` and marks the assistant's answer + EOS
    as the generated part. System messages are dropped (the tuned model never saw one)."""
    if fmt not in _TURN:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return ("{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}" + _TURN[fmt]
            + "{% elif m['role'] == 'assistant' %}{% generation %}{{ m['content'] }}{{ eos_token }}"
              "{% endgeneration %}{% endif %}{% endfor %}")


def export(model, tokenizer, folder: str | Path, fmt: str = "prefix", metrics: dict | None = None,
           max_new_tokens: int = 32, overwrite: bool = False) -> Path:
    """Write `model` as a Hugging Face folder ready to serve: weights (safetensors), config, tokenizer,
    a chat template for the format `fmt` the model was tuned with, left padding for batched
    generation, and a generation config (greedy, stops at EOS, at most `max_new_tokens`).

    Atomic (a temporary folder, then a rename, by `models.save_model`); an existing non-empty folder
    is only replaced with `overwrite=True`. Neither `model` nor `tokenizer` is changed.
    """
    from transformers import GenerationConfig

    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()) and not overwrite:
        raise FileExistsError(f"{folder} already exists and is not empty; pass overwrite=True to replace it")
    if tokenizer.eos_token_id is None:
        raise ValueError("the tokenizer has no EOS token: a served model would never stop (see notebook 11)")
    tok = copy.deepcopy(tokenizer)
    tok.chat_template = chat_template_for(fmt)
    tok.padding_side = "left"
    tok.init_kwargs["padding_side"] = "left"
    old = model.generation_config
    model.generation_config = GenerationConfig(
        do_sample=False, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id, max_new_tokens=max_new_tokens)
    try:
        return save_model(model, tok, folder, metrics={**(metrics or {}), "format": fmt}, overwrite=overwrite)
    finally:
        model.generation_config = old


def _check_folder(folder: str | Path) -> Path:
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"model folder {folder} does not exist")
    for name in ("config.json", "tokenizer_config.json"):
        if not (folder / name).exists():
            raise FileNotFoundError(f"{folder} is not a servable Hugging Face folder: {name} is missing")
    return folder


def load_for_serving(folder: str | Path, device: str | None = None):
    """A `transformers` text-generation pipeline on `folder`, built with plain `transformers` only
    (AutoModelForCausalLM + AutoTokenizer): what a user without itlib does. Call it with chat
    messages, e.g. `pipe([{"role": "user", "content": "Sort the numbers.\\n\\n3 1 2"}])`."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline
    from transformers.utils import logging as hf_logging

    folder = _check_folder(folder)
    hf_logging.disable_progress_bar()
    tok = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModelForCausalLM.from_pretrained(str(folder))
    return pipeline("text-generation", model=model, tokenizer=tok, device=device)


# The program a user without itlib runs: plain transformers, reads a JSON job on stdin
# {"folders": [...], "messages": [...], "batch_size": 32, "generate": {}} and prints {"answers": {folder: [...]}, "modules": [...]}.
SERVE_SCRIPT = """\
import json, sys
from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline
from transformers.utils import logging
logging.set_verbosity_error()
logging.disable_progress_bar()

job = json.load(sys.stdin)
answers = {}
for folder in job["folders"]:
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    chat = pipeline("text-generation", model=model, tokenizer=tokenizer)
    chats = [[{"role": "user", "content": text}] for text in job["messages"]]
    replies = chat(chats, batch_size=job["batch_size"], **job["generate"])
    answers[folder] = [reply[0]["generated_text"][-1]["content"] for reply in replies]
print(json.dumps({"answers": answers, "itlib_loaded": "itlib" in sys.modules}))
"""


def answer_in_fresh_process(folders: str | Path | Sequence[str | Path], messages: Sequence[str],
                            batch_size: int = 32, timeout: float = 300, **generate_kwargs) -> dict:
    """Run `SERVE_SCRIPT` in a new Python process (`python -c`, offline, no itlib import) on each
    folder and return {"answers": {folder: [answer per message]}, "itlib_loaded": bool, "seconds": ...}.

    The pipeline answers `batch_size` messages at a time (left-padded; one at a time is ~10x slower).

    `generate_kwargs` (e.g. max_new_tokens) go to the pipeline call; by default the folder's own
    generation config decides how to decode."""
    if isinstance(folders, (str, Path)):
        folders = [folders]
    folders = [str(_check_folder(f).resolve()) for f in folders]
    job = json.dumps({"folders": folders, "messages": list(messages), "batch_size": batch_size,
                      "generate": generate_kwargs})
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    env.pop("PYTHONPATH", None)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", SERVE_SCRIPT], check=False, input=job, capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=Path(folders[0]).parent)
    if proc.returncode != 0:
        raise RuntimeError(f"the serving process failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["seconds"] = time.perf_counter() - t0
    return result


# ============================================================================ decoding


@torch.no_grad()
def generate_ids(model, tokenizer, prompts: Sequence[Sequence[int]], max_new_tokens: int = 32,
                 stop_at_eos: bool = True, do_sample: bool = False, temperature: float = 1.0,
                 top_p: float = 1.0, seed: int | None = None) -> list[list[int]]:
    """New token ids for each prompt (lists of ids), left-padded into one batch.

    With `stop_at_eos` generation stops at EOS and each answer is cut after its EOS (kept);
    without it the model runs on to `max_new_tokens`, as it does when a served model's config
    lacks `eos_token_id`. Sampling draws from `next_token_distribution(logits, temperature, top_p)`.
    """
    device = next(model.parameters()).device
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), tokenizer.pad_token_id, dtype=torch.long)
    attn = torch.zeros_like(ids)
    for row, p in enumerate(prompts):
        ids[row, width - len(p):] = torch.tensor(list(p))
        attn[row, width - len(p):] = 1
    if seed is not None:
        torch.manual_seed(seed)
    kwargs = ({"do_sample": True, "temperature": temperature, "top_p": top_p, "top_k": 0} if do_sample
              else {"do_sample": False})
    was_training = model.training
    model.eval()
    out = model.generate(input_ids=ids.to(device), attention_mask=attn.to(device), max_new_tokens=max_new_tokens,
                         eos_token_id=tokenizer.eos_token_id if stop_at_eos else None,
                         pad_token_id=tokenizer.pad_token_id, use_cache=True, **kwargs)
    model.train(was_training)
    new = [row[width:].tolist() for row in out]
    if stop_at_eos:
        new = [r[: r.index(tokenizer.eos_token_id) + 1] if tokenizer.eos_token_id in r else r for r in new]
    return new


def serve_text(model, tokenizer, examples: Sequence[Example], fmt: str = "prefix", stop_at_eos: bool = True,
               batch_size: int = 64, **kwargs) -> tuple[list[str], list[int]]:
    """What a plain server returns: every new token decoded with `skip_special_tokens=True` (nothing
    is cut at EOS afterwards: a server only stops where generation stopped). Returns (texts, lengths
    in new tokens)."""
    texts, lengths = [], []
    for s in range(0, len(examples), batch_size):
        prompts = [prompt_ids(ex, tokenizer, fmt) for ex in examples[s: s + batch_size]]
        for new in generate_ids(model, tokenizer, prompts, stop_at_eos=stop_at_eos, **kwargs):
            texts.append(tokenizer.decode(new, skip_special_tokens=True))
            lengths.append(len(new))
    return texts, lengths


def next_token_distribution(logits: torch.Tensor, temperature: float = 1.0, top_p: float = 1.0) -> torch.Tensor:
    """The distribution sampling draws the next token from (last dimension = vocabulary):

        p = softmax(logits / T); keep the smallest set of most likely tokens whose total is >= top_p
        (the token that crosses top_p is kept), set the rest to 0 and renormalise.

    Equals transformers' TemperatureLogitsWarper + TopPLogitsWarper followed by softmax (ties aside).
    T -> 0 approaches greedy decoding (all mass on the argmax)."""
    if temperature <= 0:
        raise ValueError("temperature must be > 0 (greedy decoding is do_sample=False)")
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    if top_p >= 1.0:
        return probs
    sorted_p, order = probs.sort(dim=-1, descending=True)
    before = sorted_p.cumsum(dim=-1) - sorted_p  # mass of the more likely tokens
    keep_sorted = before < top_p                   # the first token is always kept
    keep = torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)
    probs = probs * keep
    return probs / probs.sum(dim=-1, keepdim=True)


# ============================================================================ speed


def measure_latency(model, tokenizer, examples: Sequence[Example], fmt: str = "prefix", batch_size: int = 1,
                    max_new_tokens: int = 32, warmup: int = 1) -> dict:
    """Greedy answers for `examples` in batches of `batch_size`, timed.

    Returns seconds, answers, new tokens (up to and including EOS), latency per batch (median
    and 90th percentile, ms), tokens/s and answers/s. With batch_size=1 the latency is what one
    user waits for one answer; bigger batches trade that for throughput."""
    prompts = [prompt_ids(ex, tokenizer, fmt) for ex in examples]
    for p in prompts[:warmup]:
        generate_ids(model, tokenizer, [p], max_new_tokens=max_new_tokens)
    times, n_tokens = [], 0
    for s in range(0, len(prompts), batch_size):
        t0 = time.perf_counter()
        new = generate_ids(model, tokenizer, prompts[s: s + batch_size], max_new_tokens=max_new_tokens)
        times.append(time.perf_counter() - t0)
        n_tokens += sum(len(n) for n in new)
    total = sum(times)
    ordered = sorted(times)
    return {"batch_size": batch_size, "answers": len(prompts), "new_tokens": n_tokens, "seconds": total,
            "latency_ms": 1000 * ordered[len(ordered) // 2],
            "latency_p90_ms": 1000 * ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))],
            "tokens_per_s": n_tokens / total, "answers_per_s": len(prompts) / total}


# ============================================================================ int8


def quantize_int8(model, skip: Sequence[str] = ("lm_head",)):
    """A copy of `model` with every `nn.Linear` (except the modules named in `skip`) replaced by a
    dynamically quantised int8 one: weights stored as int8 with one scale per tensor, activations
    quantised on the fly. CPU only.

    Uses `torch.ao.quantization.quantize_dynamic`, which still works in torch 2.13 but is deprecated
    (its warning points to torchao's `quantize_(model, Int8DynamicActivationInt8WeightConfig())`);
    torchao is not a dependency of this course, so the deprecation warnings are silenced here.
    `lm_head` is skipped by default because it shares its weight with the (float) input embedding:
    quantising it would add an int8 copy instead of saving memory."""
    from torch.ao.quantization import default_dynamic_qconfig, quantize_dynamic

    qmodel = copy.deepcopy(model).cpu().eval()
    spec = {torch.nn.Linear: default_dynamic_qconfig, **{name: None for name in skip}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*quantiz.*deprecated.*")
        warnings.filterwarnings("ignore", message=".*deprecated.*quantiz.*")
        quantize_dynamic(qmodel, spec, dtype=torch.qint8, inplace=True)
    return qmodel


def _tensor_bytes(value, seen: set) -> int:
    if isinstance(value, (tuple, list)):
        return sum(_tensor_bytes(v, seen) for v in value)
    if not isinstance(value, torch.Tensor):
        return 0
    if value.is_quantized:
        key = ("q", id(value))
    else:
        key = (value.untyped_storage().data_ptr(), value.storage_offset(), tuple(value.shape))
    if key in seen:
        return 0  # a tied weight counts once
    seen.add(key)
    return value.numel() * value.element_size()


def model_size_bytes(model) -> int:
    """Bytes of the model's weights and buffers in memory (`state_dict`), shared tensors counted once,
    int8 weights of quantised layers counted at 1 byte each (plus their scales)."""
    seen: set = set()
    return sum(_tensor_bytes(v, seen) for v in model.state_dict().values())


def folder_size_bytes(folder: str | Path, pattern: str = "*.safetensors") -> int:
    """Total size on disk of the files in `folder` matching `pattern` (default: the weights)."""
    return sum(p.stat().st_size for p in Path(folder).glob(pattern) if p.is_file())


# ============================================================================ chat widget


class ChatWidget(StaticHTMLBox):
    """Chat with a tuned model: an instruction box, an input box, a send button and an HTML transcript.

    Each message is written in the format `fmt` the model was tuned with (one instruction, one
    input, one answer: the model was tuned on single turns, so each turn stands alone). Temperature
    0 is greedy decoding. State worth reading (or testing): `history` (one dict per turn: instruction,
    input, answer, ms, tokens), `transcript.value` (HTML), `last_answer`. `send_message()` is what
    the button (and Enter in either box) does: it answers, then empties both boxes, as a chat does;
    `ask(instruction, input)` fills the boxes and sends.
    """

    def __init__(self, model, tokenizer, fmt: str = "prefix", max_new_tokens: int = 32, title: str = "tuned model"):
        w = ipywidgets_module()
        self.model, self.tokenizer, self.fmt, self.max_new_tokens = model, tokenizer, fmt, max_new_tokens
        self.history: list[dict] = []
        self.last_answer: str | None = None
        self.title = title
        self.instruction = w.Text(placeholder="instruction, e.g. Sort the numbers from smallest to largest.",
                                  description="instruction", layout=w.Layout(width="95%"))
        self.input = w.Text(placeholder="input (may be empty), e.g. 7 2 9", description="input",
                            layout=w.Layout(width="95%"))
        self.temperature = w.FloatSlider(value=0.0, min=0.0, max=1.5, step=0.1, description="temperature",
                                         tooltip="0 = greedy (deterministic)")
        self.send = w.Button(description="send", button_style="primary", icon="paper-plane")
        self.clear = w.Button(description="clear")
        self.transcript = w.HTML(value=self._render())
        self.send.on_click(self.send_message)
        self.clear.on_click(self.clear_history)
        with warnings.catch_warnings():  # ipywidgets 8 marks on_submit deprecated, but its replacement
            warnings.simplefilter("ignore", DeprecationWarning)  # (observe value) also fires on blur
            self.instruction.on_submit(self.send_message)  # Enter in either box sends, as in a chat
            self.input.on_submit(self.send_message)
        super().__init__([self.transcript, self.instruction, self.input,
                          w.HBox([self.send, self.clear, self.temperature])])

    def ask(self, instruction: str, input: str = "") -> str:
        """Type `instruction` and `input` into the boxes and press send; returns the answer."""
        self.instruction.value, self.input.value = instruction, input
        self.send_message()
        return self.last_answer

    def send_message(self, _button=None) -> None:
        """The send button's handler: answer the boxes' message and add the turn to the transcript."""
        instruction, text = self.instruction.value.strip(), self.input.value.strip()
        if not instruction:
            self.transcript.value = self._render(notice="type an instruction first")
            return
        try:
            prompt = prompt_ids(Example(instruction, text, "?"), self.tokenizer, self.fmt)
            temperature = float(self.temperature.value)
            t0 = time.perf_counter()
            new = generate_ids(self.model, self.tokenizer, [prompt], max_new_tokens=self.max_new_tokens,
                               do_sample=temperature > 0, temperature=max(temperature, 1e-3))[0]
            ms = 1000 * (time.perf_counter() - t0)
        except Exception as err:  # noqa: BLE001 -- a widget callback: show the error, do not lose it
            self.transcript.value = self._render(notice=f"{type(err).__name__}: {err}")
            return
        self.last_answer = decode_answer(self.tokenizer, new)
        stopped = bool(new) and new[-1] == self.tokenizer.eos_token_id
        self.history.append({"instruction": instruction, "input": text, "answer": self.last_answer, "ms": ms,
                             "tokens": len(new), "stopped_at_eos": stopped, "temperature": temperature})
        self.instruction.value = self.input.value = ""  # the sent message is in the transcript now
        self.transcript.value = self._render()
        self.instruction.focus()

    def clear_history(self, _button=None) -> None:
        self.history, self.last_answer = [], None
        self.transcript.value = self._render()

    def _render(self, notice: str = "") -> str:
        rows = [(f"<div style='color:#555'><b>chat with the {html.escape(self.title)}</b> "
                 f"(format: {html.escape(self.fmt)})</div>")]
        for turn in self.history:
            user = html.escape(turn["instruction"]) + (
                f"<br><code>{html.escape(turn['input'])}</code>" if turn["input"] else "")
            rows.append(f"<div style='margin:4px 0'><b>you:</b> {user}</div>")
            end = "" if turn["stopped_at_eos"] else " · no EOS: cut at max_new_tokens"
            rows.append(f"<div style='margin:4px 0 8px 0;color:#1a4f8b'><b>model:</b> "
                        f"<code>{html.escape(turn['answer'])}</code> <span style='color:#888;font-size:smaller'>"
                        f"({turn['tokens']} tokens, {turn['ms']:.0f} ms{end})</span></div>")
        if notice:
            rows.append(f"<div style='color:#c62828'>{html.escape(notice)}</div>")
        return "\n".join(rows)

    def static_html(self) -> str:
        """The transcript as HTML: what a saved notebook shows where the widget does not run."""
        return self.transcript.value

    def __repr__(self) -> str:
        return f"ChatWidget({len(self.history)} turns, format={self.fmt!r})"

