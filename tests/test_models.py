import json
import subprocess
import sys

import pytest
import torch

from itlib.data import Example
from itlib.evaluate import generate
from itlib.models import build_model, load_model, n_params, save_model, with_eager_attention
from itlib.train import fit


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_architectures_build_at_each_size(tokenizer, arch):
    sizes = [n_params(build_model(tokenizer, arch=arch, size=s)) for s in ("micro", "tiny", "small")]
    assert sizes == sorted(sizes) and sizes[0] < 500_000 < sizes[1] < 5_000_000


def test_eager_attention_returns_weights(tokenizer):
    model = with_eager_attention(build_model(tokenizer, size="micro"))
    out = model(input_ids=torch.tensor([[1, 20, 30, 40]]), output_attentions=True)
    assert len(out.attentions) == 2 and out.attentions[0].shape == (1, 4, 4, 4)
    torch.testing.assert_close(out.attentions[0].sum(-1), torch.ones(1, 4, 4))


def test_unknown_names_are_clear_errors(tokenizer, tmp_path):
    with pytest.raises(ValueError, match="unknown architecture 'bert'"):
        build_model(tokenizer, arch="bert")
    with pytest.raises(ValueError, match="unknown size"):
        build_model(tokenizer, size="huge")
    with pytest.raises(FileNotFoundError, match="no config.json"):
        load_model(tmp_path)


def test_saved_folder_round_trips_through_plain_transformers(tokenizer, tmp_path):
    exs = [Example("Reverse the list.", f"{a} {b}", f"{b} {a}") for a in range(10) for b in range(10)]
    model = build_model(tokenizer, size="micro")
    fit(model, tokenizer, exs, epochs=3, batch_tokens=512, device="cpu", progress=False)
    ours = generate(model, tokenizer, exs[:5])
    folder = save_model(model, tokenizer, tmp_path / "m", metrics={"exact_match": 0.5})
    with pytest.raises(FileExistsError):
        save_model(model, tokenizer, folder)
    assert json.loads((folder / "generation_config.json").read_text())["eos_token_id"] == tokenizer.eos_token_id
    assert (folder / "model.safetensors").exists() and not list(tmp_path.glob(".m.*"))
    prompts = [f"Instruction: {e.instruction}\nInput: {e.input}\nAnswer:\n" for e in exs[:5]]
    script = f"""
import json, sys
from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline
tok = AutoTokenizer.from_pretrained({str(folder)!r})
model = AutoModelForCausalLM.from_pretrained({str(folder)!r})
pipe = pipeline("text-generation", model=model, tokenizer=tok)
outs = []
for p in {prompts!r}:
    r = pipe(tok.bos_token + p, return_full_text=False, do_sample=False)
    outs.append(r[0]["generated_text"])
print(json.dumps(outs))
"""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                         env={"HF_HUB_OFFLINE": "1", "PATH": ""})
    assert run.returncode == 0, run.stderr[-2000:]
    theirs = json.loads(run.stdout.strip().splitlines()[-1])
    assert theirs == ours
    reloaded, tok2 = load_model(folder)
    assert generate(reloaded, tok2, exs[:5]) == ours
