import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from itlib.data import INVISIBLE, Example
from itlib.formats import FORMATS, chat_messages, prompt_ids, render

text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=40)
nonblank = text.filter(lambda s: any(unicodedata.category(c) not in INVISIBLE for c in s))
HC = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


@settings(max_examples=60, deadline=None, suppress_health_check=HC)
@given(s=text)
def test_decode_encode_is_lossless_for_any_unicode(tokenizer, s):
    ids = tokenizer(s, add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids) == s


def test_chinese_round_trips_in_few_tokens(tokenizer):
    s = "把每个单词改成大写。红 蓝 绿"
    ids = tokenizer(s, add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids) == s
    assert len(ids) < len(s.encode("utf-8"))  # BPE merged the Chinese bytes


@pytest.mark.parametrize("fmt", FORMATS)
@settings(max_examples=40, deadline=None, suppress_health_check=HC)
@given(i=nonblank, x=text | st.just(""), y=nonblank)
def test_mask_covers_exactly_the_answer_and_eos(tokenizer, fmt, i, x, y):
    ex = Example(instruction=i, input=x, output=y)
    r = render(ex, tokenizer, fmt)
    assert len(r.input_ids) == len(r.loss_mask)
    answer = [t for t, m in zip(r.input_ids, r.loss_mask) if m]
    assert answer[-1] == tokenizer.eos_token_id
    assert tokenizer.decode(answer[:-1]) == y
    # the mask is one contiguous block at the end, after the prompt the model is given
    assert r.loss_mask == [0] * r.prompt_len + [1] * (len(r.input_ids) - r.prompt_len)
    assert r.input_ids[: r.prompt_len] == prompt_ids(ex, tokenizer, fmt)


def test_formats_differ_on_the_same_example(tokenizer):
    ex = Example("Sort the numbers.", "7 2 9", "2 7 9")
    texts = {fmt: tokenizer.decode(render(ex, tokenizer, fmt).input_ids) for fmt in FORMATS}
    assert len(set(texts.values())) == len(FORMATS)
    assert texts["prefix"].startswith("<s>Instruction: Sort the numbers.")
    # infilling: the answer slot has text after it (the instruction comes after the slot)
    assert texts["infilling"].index("<|fim_suffix|>") < texts["infilling"].index("Sort")


@settings(max_examples=30, deadline=None, suppress_health_check=HC)
@given(i=nonblank, x=text | st.just(""), y=nonblank)
def test_chat_mask_equals_apply_chat_template(tokenizer, i, x, y):
    ex = Example(instruction=i, input=x, output=y)
    r = render(ex, tokenizer, "chat")
    ref = tokenizer.apply_chat_template(chat_messages(ex), tokenize=True, return_dict=True,
                                        return_assistant_tokens_mask=True)
    # the template tokenises the whole string at once; with role tokens and a newline at the
    # boundaries it gives the same ids as tokenising prompt and answer apart
    assert ref["input_ids"] == r.input_ids
    assert ref["assistant_masks"] == r.loss_mask


def test_unknown_format_is_a_clear_error(tokenizer):
    with pytest.raises(ValueError, match="unknown format 'xml'"):
        render(Example("a", "", "b"), tokenizer, "xml")


# --- conversations: every assistant turn carries loss, as the chat template's assistant mask says ---

turn = nonblank.filter(lambda s: not any(t in s for t in ("<|", "</s>", "<s>", "<pad>", "<sep>")))


@settings(max_examples=30, deadline=None, suppress_health_check=HC)
@given(system=st.none() | text, pairs=st.lists(st.tuples(turn, turn), min_size=1, max_size=3), x=text | st.just(""))
def test_multi_turn_mask_equals_apply_chat_template(tokenizer, system, pairs, x):
    history = [("system", system)] if system is not None else []
    for user, assistant in pairs[:-1]:
        history += [("user", user), ("assistant", assistant)]
    ex = Example(instruction=pairs[-1][0], input=x, output=pairs[-1][1], history=tuple(history))
    r = render(ex, tokenizer, "chat")
    messages = chat_messages(ex)
    ref = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True,
                                        return_assistant_tokens_mask=True)
    assert ref["input_ids"] == r.input_ids
    assert ref["assistant_masks"] == r.loss_mask
    # the prompt is what a chat model answers from: every earlier turn, then the last user turn
    generation = tokenizer.apply_chat_template(messages[:-1], tokenize=True, return_dict=True,
                                               add_generation_prompt=True)["input_ids"]
    assert prompt_ids(ex, tokenizer, "chat") == generation == r.input_ids[: r.prompt_len]


def test_multi_turn_mask_covers_exactly_the_assistant_turns(tokenizer):
    ex = Example("Now backwards.", "", "9 7 2", history=(("system", "Answer briefly."),
                                                         ("user", "Sort: 7 2 9"), ("assistant", "2 7 9")))
    r = render(ex, tokenizer, "chat")
    runs, start = [], None  # the trained stretches, as (start, end) token positions
    for i, m in enumerate(r.loss_mask + [0]):
        if m and start is None:
            start = i
        elif not m and start is not None:
            runs.append((start, i))
            start = None
    assert [tokenizer.decode(r.input_ids[a:b]) for a, b in runs] == ["2 7 9</s>", "9 7 2</s>"]
    assert runs[-1] == (r.prompt_len, len(r.input_ids))


@pytest.mark.parametrize("fmt", ["prefix", "infilling", "seq2seq"])
def test_a_conversation_needs_the_chat_format(tokenizer, fmt):
    ex = Example("b", "", "c", history=(("system", "s"),))
    with pytest.raises(ValueError, match="is a conversation .* use fmt='chat'"):
        render(ex, tokenizer, fmt)
    with pytest.raises(ValueError, match="unknown format 'xml'"):
        render(ex, tokenizer, "xml")
