"""itlib.deploy: export and reload in a fresh process, generation config (EOS), sampling by hand,
the chat widget headless, int8 quantisation and the latency measurement."""

import json

import pytest
import torch

import itlib
from itlib import deploy
from itlib.data import Example
from itlib.evaluate import generate
from itlib.formats import FORMATS, prompt_ids, user_text

EXAMPLES = [
    Example("Sort the numbers from smallest to largest.", "7 2 9", "2 7 9"),
    Example("What is the largest number?", "3 8 5", "8"),
    Example("Name a colour.", "", "red"),
    Example("Translate the colours into Chinese.", "red blue", "红 蓝"),
    Example("Reverse the list.", "4 1 8 6", "6 8 1 4"),
]


@pytest.fixture(scope="module")
def base():
    return itlib.load_base()


@pytest.fixture(scope="module")
def exported(base, tmp_path_factory):
    model, tok = base
    return deploy.export(model, tok, tmp_path_factory.mktemp("deploy") / "model")


def test_fresh_process_gives_the_same_greedy_answers(base, exported):
    model, tok = base
    here = generate(model, tok, EXAMPLES)
    result = deploy.answer_in_fresh_process(exported, [user_text(ex) for ex in EXAMPLES], batch_size=2)
    assert result["itlib_loaded"] is False  # plain transformers only
    assert result["answers"][str(exported.resolve())] == here


def test_load_for_serving_in_process_matches(base, exported):
    model, tok = base
    pipe = deploy.load_for_serving(exported)
    replies = pipe([[{"role": "user", "content": user_text(ex)}] for ex in EXAMPLES[:3]])
    assert [r[0]["generated_text"][-1]["content"] for r in replies] == generate(model, tok, EXAMPLES[:3])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        deploy.load_for_serving(exported.parent / "nope")
    with pytest.raises(FileNotFoundError, match="config.json is missing"):
        deploy.load_for_serving(exported.parent)


def test_export_writes_eos_and_refuses_to_overwrite(base, exported):
    model, tok = base
    gen = json.loads((exported / "generation_config.json").read_text())
    assert gen["eos_token_id"] == tok.eos_token_id and gen["do_sample"] is False
    assert json.loads((exported / "tokenizer_config.json").read_text())["padding_side"] == "left"
    assert json.loads((exported / "metrics.json").read_text())["format"] == "prefix"
    before = (exported / "model.safetensors").read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        deploy.export(model, tok, exported)
    assert (exported / "model.safetensors").read_bytes() == before
    deploy.export(model, tok, exported, fmt="chat", overwrite=True)
    assert json.loads((exported / "metrics.json").read_text())["format"] == "chat"
    assert not list(exported.parent.glob(f".{exported.name}*"))  # no temporary folders left behind
    assert tok.chat_template != deploy.chat_template_for("prefix")  # the caller's tokenizer is untouched
    deploy.export(model, tok, exported, overwrite=True)


@pytest.mark.parametrize("fmt", FORMATS)
def test_chat_template_reproduces_the_tuning_format(base, fmt):
    _, tok = base
    tok = tok.__class__.from_pretrained(itlib.BASE_DIR)
    tok.chat_template = deploy.chat_template_for(fmt)
    for ex in EXAMPLES:
        ids = tok.apply_chat_template([{"role": "user", "content": user_text(ex)}], add_generation_prompt=True,
                                      tokenize=True, return_dict=True)["input_ids"]
        assert ids == prompt_ids(ex, tok, fmt), (fmt, ex)
    with pytest.raises(ValueError, match="unknown format"):
        deploy.chat_template_for("xml")


def test_missing_eos_runs_to_max_new_tokens(base):
    model, tok = base
    prompts = [prompt_ids(ex, tok) for ex in EXAMPLES]
    stopped = deploy.generate_ids(model, tok, prompts, max_new_tokens=40)
    run_on = deploy.generate_ids(model, tok, prompts, max_new_tokens=40, stop_at_eos=False)
    assert all(len(r) == 40 for r in run_on)
    assert all(len(s) < 40 and s[-1] == tok.eos_token_id for s in stopped)  # the base ends its sentences
    assert all(r[: len(s)] == s for s, r in zip(stopped, run_on))  # same start, then it keeps going
    texts, lengths = deploy.serve_text(model, tok, EXAMPLES, stop_at_eos=False, max_new_tokens=40)
    assert lengths == [40] * len(EXAMPLES)
    assert all(len(t) > len(tok.decode(s, skip_special_tokens=True)) for t, s in zip(texts, stopped))


def test_greedy_is_deterministic_and_sampling_varies(base):
    model, tok = base
    prompts = [prompt_ids(EXAMPLES[0], tok)] * 8
    greedy = deploy.generate_ids(model, tok, prompts)
    assert all(g == greedy[0] for g in greedy)
    sampled = deploy.generate_ids(model, tok, prompts, do_sample=True, temperature=1.2, seed=0)
    assert len({tuple(s) for s in sampled}) > 1
    again = deploy.generate_ids(model, tok, prompts, do_sample=True, temperature=1.2, seed=0)
    assert again == sampled  # a seed makes sampling repeatable


@pytest.mark.parametrize("temperature,top_p", [(1.0, 1.0), (0.7, 0.9), (1.5, 0.5), (0.3, 0.95)])
def test_next_token_distribution_matches_transformers(temperature, top_p):
    from transformers.generation.logits_process import TemperatureLogitsWarper, TopPLogitsWarper

    torch.manual_seed(0)
    logits = torch.randn(4, 50) * 3
    ids = torch.zeros(4, 1, dtype=torch.long)
    ref = TemperatureLogitsWarper(temperature)(ids, logits.clone())
    if top_p < 1:
        ref = TopPLogitsWarper(top_p)(ids, ref)
    mine = deploy.next_token_distribution(logits, temperature, top_p)
    torch.testing.assert_close(mine, torch.softmax(ref, -1))
    assert torch.allclose(mine.sum(-1), torch.ones(4))
    cold = deploy.next_token_distribution(logits, 0.01)
    assert torch.equal(cold.argmax(-1), logits.argmax(-1)) and (cold.max(-1).values > 0.99).all()
    with pytest.raises(ValueError, match="temperature"):
        deploy.next_token_distribution(logits, 0.0)


def test_chat_widget_headless(base):
    model, tok = base
    chat = deploy.ChatWidget(model, tok, fmt="prefix")
    chat.instruction.value = EXAMPLES[0].instruction
    chat.input.value = EXAMPLES[0].input
    chat.send_message()  # what the send button does
    expected = generate(model, tok, EXAMPLES[:1])[0]
    assert chat.last_answer == expected and chat.history[0]["answer"] == expected
    assert "7 2 9" in chat.transcript.value and expected.strip().split()[0] in chat.transcript.value
    assert chat.input.value == "" and chat.instruction.value == ""  # both boxes ready for the next message
    assert chat.ask(EXAMPLES[1].instruction, EXAMPLES[1].input) == generate(model, tok, EXAMPLES[1:2])[0]
    assert len(chat.history) == 2 and chat.history[1]["tokens"] >= 1
    chat.instruction.value = "   "
    chat.send_message()
    assert "type an instruction" in chat.transcript.value and len(chat.history) == 2
    chat.send.click()  # the button is wired to the handler
    assert "type an instruction" in chat.transcript.value
    chat.clear_history()
    assert chat.history == [] and "you:" not in chat.transcript.value
    assert "text/html" in chat._repr_mimebundle_()


def test_chat_widget_sends_on_enter_and_starts_empty_after_run_all(base):
    model, tok = base
    chat = deploy.ChatWidget(model, tok, fmt="prefix")
    chat.ask(EXAMPLES[0].instruction, EXAMPLES[0].input)  # what a notebook cell does before the learner types
    assert chat.instruction.value == "" and chat.input.value == ""  # typing does not append to an old message
    chat.instruction.value, chat.input.value = EXAMPLES[1].instruction, EXAMPLES[1].input
    chat.input._submission_callbacks(chat.input)  # what the frontend sends when Enter is pressed in the box
    assert len(chat.history) == 2 and chat.history[1]["input"] == EXAMPLES[1].input
    chat.instruction.value = EXAMPLES[0].instruction
    chat.instruction._submission_callbacks(chat.instruction)
    assert len(chat.history) == 3


def test_quantised_model_generates_and_is_smaller(base):
    model, tok = base
    q = deploy.quantize_int8(model)
    assert type(q.model.layers[0].mlp.up_proj).__name__ == "Linear" and hasattr(q.model.layers[0].mlp.up_proj,
                                                                                  "_packed_params")
    assert isinstance(q.lm_head, torch.nn.Linear) and q.lm_head.weight is q.model.embed_tokens.weight
    assert isinstance(model.model.layers[0].mlp.up_proj.weight, torch.nn.Parameter)  # original untouched
    full, small = deploy.model_size_bytes(model), deploy.model_size_bytes(q)
    assert small < 0.5 * full
    answers = generate(q, tok, EXAMPLES)
    assert len(answers) == len(EXAMPLES) and all(isinstance(a, str) for a in answers)
    # close to float: the next-token distributions at the prompt positions differ by a small total variation
    # distance, 0.5 * sum |p - q| (measured 0.13-0.20 per prompt on the shipped base; unrelated models: ~1).
    # Whole generations of the untuned base run on for dozens of tokens, so they are not compared.
    with torch.no_grad():
        tv = [0.5 * (q(input_ids=ids).logits.softmax(-1) - model(input_ids=ids).logits.softmax(-1)).abs().sum(-1).mean()
              for ids in (torch.tensor([prompt_ids(ex, tok)]) for ex in EXAMPLES)]
    assert max(tv) < 0.25, tv


def test_model_size_counts_tied_weights_once(base, exported):
    model, _ = base
    size = deploy.model_size_bytes(model)
    n = sum(p.numel() for p in model.parameters())  # parameters() lists a tied weight once
    assert size >= 4 * n and size - 4 * n < 0.01 * size  # only small buffers on top
    on_disk = deploy.folder_size_bytes(exported)
    assert abs(on_disk - size) < 0.01 * size


def test_measure_latency(base):
    model, tok = base
    one = deploy.measure_latency(model, tok, EXAMPLES, batch_size=1)
    batch = deploy.measure_latency(model, tok, EXAMPLES, batch_size=5)
    assert one["answers"] == batch["answers"] == 5
    assert one["new_tokens"] == batch["new_tokens"] == sum(
        len(n) for n in deploy.generate_ids(model, tok, [prompt_ids(ex, tok) for ex in EXAMPLES]))
    assert one["latency_ms"] > 0 and one["tokens_per_s"] > 0
    assert batch["answers_per_s"] == pytest.approx(5 / batch["seconds"])


def test_fresh_process_refuses_a_folder_without_a_model(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json is missing"):
        deploy.answer_in_fresh_process(tmp_path, ["hi"])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        deploy.answer_in_fresh_process(tmp_path / "missing", ["hi"])


def test_exercise_size_formula_matches_the_quantised_base(base):
    from itlib.exercises import nb11

    model, _ = base
    c = model.config
    assert (nb11.VOCAB, nb11.HIDDEN, nb11.FFN, nb11.LAYERS) == (c.vocab_size, c.hidden_size, c.intermediate_size,
                                                                 c.num_hidden_layers)
    measured = deploy.model_size_bytes(deploy.quantize_int8(model))
    assert 0 <= measured - nb11.int8_size() < 500  # the scales and zero points


def test_int8_weights_are_symmetric_per_tensor(base):
    """The formula notebook 11 teaches: zero point 0, scale = max|W| / 127.5, round to the nearest step."""
    model, _ = base
    q = deploy.quantize_int8(model)
    for get in (lambda m: m.model.layers[0].self_attn.q_proj, lambda m: m.model.layers[-1].mlp.down_proj):
        w, qw = get(model).weight.detach(), get(q).weight()
        assert qw.q_zero_point() == 0
        assert qw.q_scale() == pytest.approx(w.abs().max().item() / 127.5, rel=1e-6)
        assert (qw.dequantize() - w).abs().max() <= qw.q_scale() / 2 + 1e-7
