"""itlib.bayes: Gaussian priors as penalties (weight decay, L2-SP, EWC), the diagonal Fisher, and
their equality with the reference versions (autograd, torch.optim weight decay, torch.distributions,
a per-example loop over transformers' own loss)."""

import copy

import pytest
import torch

from itlib import bayes
from itlib.data import Example
from itlib.formats import Rendered, render
from itlib.models import build_model


@pytest.fixture(scope="module")
def model(tokenizer):
    return build_model(tokenizer, size="micro", seed=0)


def examples(n=6):
    import random

    rng = random.Random(0)
    out = []
    for _ in range(n):
        xs = [str(rng.randint(0, 9)) for _ in range(rng.randint(2, 5))]
        out.append(Example("Reverse the list.", " ".join(xs), " ".join(xs[::-1])))
    return out


def perturbed(model, scale=0.01, seed=1):
    m = copy.deepcopy(model)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g))
    return m


def data_loss(model, tokenizer):
    from itlib.train import answer_loss, collate

    batch = collate([render(e, tokenizer) for e in examples(4)], tokenizer.pad_token_id)
    return answer_loss(model, batch)


def test_weight_decay_gradient_is_lambda_theta(model):
    m = copy.deepcopy(model)
    lam = 0.3
    m.zero_grad()
    bayes.weight_decay(m, lam).backward()
    for p in m.parameters():
        torch.testing.assert_close(p.grad, lam * p.detach())
    expected = 0.5 * lam * sum(float(p.detach().pow(2).sum()) for p in m.parameters())
    assert bayes.weight_decay(m, lam).item() == pytest.approx(expected, rel=1e-5)


def test_prior_at_zero_is_coupled_weight_decay_of_sgd_and_adam(model, tokenizer):
    """One step of SGD (or Adam) on loss + (λ/2)||θ||² equals one step of SGD(weight_decay=λ)
    (or Adam(weight_decay=λ), which adds λθ to the gradient, "coupled"); AdamW's decoupled decay
    is not the same thing."""
    lam, lr = 0.05, 0.1
    for opt_cls, tol in ((torch.optim.SGD, 1e-6), (torch.optim.Adam, 1e-4)):
        # Adam's first step is about lr * sign(gradient): rounding matters where a gradient is ~0
        a, b = copy.deepcopy(model), copy.deepcopy(model)
        opt_a = opt_cls(a.parameters(), lr=lr)
        opt_b = opt_cls(b.parameters(), lr=lr, weight_decay=lam)
        (data_loss(a, tokenizer) + bayes.weight_decay(a, lam)).backward()
        data_loss(b, tokenizer).backward()
        opt_a.step()
        opt_b.step()
        for pa, pb in zip(a.parameters(), b.parameters()):
            torch.testing.assert_close(pa, pb, rtol=1e-4, atol=tol)
    # decoupled (AdamW) differs from the penalty under Adam
    a, c = copy.deepcopy(model), copy.deepcopy(model)
    opt_a, opt_c = torch.optim.Adam(a.parameters(), lr=lr), torch.optim.AdamW(c.parameters(), lr=lr, weight_decay=lam)
    for _ in range(2):
        opt_a.zero_grad()
        opt_c.zero_grad()
        (data_loss(a, tokenizer) + bayes.weight_decay(a, lam)).backward()
        data_loss(c, tokenizer).backward()
        opt_a.step()
        opt_c.step()
    gap = max(float((pa - pc).detach().abs().max()) for pa, pc in zip(a.parameters(), c.parameters()))
    assert gap > 1e-3


def test_l2_sp_is_zero_at_theta0_and_pulls_back(model):
    theta0 = bayes.snapshot(model)
    m = copy.deepcopy(model)
    penalty = bayes.l2_sp(m, theta0, 2.0)
    assert penalty.item() == 0.0
    penalty.backward()
    assert all(float(p.grad.abs().max()) == 0.0 for p in m.parameters())
    moved = perturbed(model)
    d = bayes.distance(moved, theta0)
    assert d > 0
    assert bayes.l2_sp(moved, theta0, 2.0).item() == pytest.approx(0.5 * 2.0 * d**2, rel=1e-4)
    moved.zero_grad()
    bayes.l2_sp(moved, theta0, 2.0).backward()
    for n, p in moved.named_parameters():
        torch.testing.assert_close(p.grad, 2.0 * (p.detach() - theta0[n]))


def test_ewc_with_unit_fisher_is_l2_sp(model):
    theta0 = bayes.snapshot(model)
    moved = perturbed(model)
    ones = {n: torch.ones_like(t) for n, t in theta0.items()}
    ref = bayes.l2_sp(moved, theta0, 0.7)
    torch.testing.assert_close(bayes.ewc(moved, theta0, ones, 0.7), ref)
    torch.testing.assert_close(bayes.gaussian_prior(moved, theta0, 0.7, weights=1.0), ref)
    # a Fisher of 2 everywhere is L2-SP with twice the strength
    twos = {n: 2 * t for n, t in ones.items()}
    torch.testing.assert_close(bayes.ewc(moved, theta0, twos, 0.7), bayes.l2_sp(moved, theta0, 1.4))


def test_log_prior_equals_torch_normal_log_prob(model):
    sigma, mu = 0.5, 0.1
    for m in (model, perturbed(model, 0.2)):
        ref = sum(torch.distributions.Normal(mu, sigma).log_prob(p.detach()).sum() for p in m.parameters())
        ours = bayes.gaussian_log_prior(m, mu, sigma)
        torch.testing.assert_close(ours.double(), ref.double(), rtol=1e-5, atol=1e-2)
        # the penalty with λ = 1/σ² is -log P(θ) up to a constant that does not depend on θ
        const = -ref - bayes.gaussian_prior(m, mu, 1 / sigma**2)
        n = sum(p.numel() for p in m.parameters())
        assert const.item() == pytest.approx(n * torch.log(torch.tensor(sigma * (2 * torch.pi) ** 0.5)).item(),
                                             rel=1e-4)


def test_prior_with_a_dict_centre_needs_every_parameter(model):
    theta0 = bayes.snapshot(model)
    theta0.pop(next(iter(theta0)))
    with pytest.raises(KeyError, match="no entry for parameter"):
        bayes.gaussian_prior(model, theta0, 1.0)
    with pytest.raises(KeyError, match="no entry for parameter"):
        bayes.ewc(model, theta0, {n: torch.ones_like(t) for n, t in theta0.items()}, 1.0)


def test_l2_sp_leaves_a_new_head_out(model):
    """A parameter theta_0 does not have (a new head) is left out of L2-SP, or gets weight decay."""
    theta0 = bayes.snapshot(model)
    m = copy.deepcopy(model)
    m.new_head = torch.nn.Linear(4, 3)
    head = sum(p.pow(2).sum() for p in m.new_head.parameters())
    assert bayes.l2_sp(m, theta0, 1.0).item() == 0.0
    assert bayes.l2_sp(m, theta0, 1.0, new_strength=0.4).item() == pytest.approx(0.2 * head.item(), rel=1e-6)
    with pytest.raises(ValueError, match="no trainable parameter"):
        bayes.l2_sp(m, {"nothing": torch.zeros(1)}, 1.0)


def test_frozen_parameters_are_left_out(model):
    m = copy.deepcopy(model)
    for n, p in m.named_parameters():
        p.requires_grad = "layers.0." in n
    theta0 = bayes.snapshot(m)
    assert theta0 and all("layers.0." in n for n in theta0)
    expected = 0.5 * sum(float(p.detach().pow(2).sum()) for n, p in m.named_parameters() if "layers.0." in n)
    assert bayes.weight_decay(m, 1.0).item() == pytest.approx(expected, rel=1e-5)
    for p in m.parameters():
        p.requires_grad = False
    with pytest.raises(ValueError, match="no parameters"):
        bayes.weight_decay(m, 1.0)


def hand_fisher(model, tokenizer, items):
    """Per example: transformers' own mean loss × number of loss tokens = -log P(y|x); square its gradient."""
    total = {n: torch.zeros_like(p) for n, p in model.named_parameters()}
    for r in items:
        ids = torch.tensor([r.input_ids])
        labels = ids.masked_fill(torch.tensor([r.loss_mask]) == 0, -100)
        n_tokens = int((labels[0, 1:] != -100).sum())
        model.zero_grad()
        (-model(input_ids=ids, labels=labels).loss * n_tokens).backward()
        for n, p in model.named_parameters():
            total[n] += p.grad.pow(2)
    model.zero_grad()
    return {n: t / len(items) for n, t in total.items()}


def test_fisher_equals_a_hand_loop_and_is_non_negative(model, tokenizer):
    exs = examples(5)
    fisher = bayes.diagonal_fisher(model, tokenizer, exs)
    ref = hand_fisher(model, tokenizer, [render(e, tokenizer) for e in exs])
    assert set(fisher) == {n for n, _ in model.named_parameters()}
    for n in ref:
        assert (fisher[n] >= 0).all()
        torch.testing.assert_close(fisher[n], ref[n], rtol=1e-4, atol=1e-8)
    assert sum(float(f.sum()) for f in fisher.values()) > 0


def test_fisher_of_documents_counts_every_token(model, tokenizer):
    docs = ["Mia sorted the numbers 3 1 2 and got 1 2 3.", "Backwards, red cat is cat red."]
    fisher = bayes.diagonal_fisher(model, tokenizer, docs)
    items = []
    for d in docs:
        ids = [tokenizer.bos_token_id, *tokenizer(d, add_special_tokens=False)["input_ids"], tokenizer.eos_token_id]
        items.append(Rendered(ids, [1] * len(ids), 0))
    ref = hand_fisher(model, tokenizer, items)
    for n in ref:
        torch.testing.assert_close(fisher[n], ref[n], rtol=1e-4, atol=1e-8)
    with pytest.raises(ValueError, match="at least one"):
        bayes.diagonal_fisher(model, tokenizer, [])


def test_fisher_is_not_the_square_of_the_mean_gradient(model, tokenizer):
    exs = examples(4)
    fisher = bayes.diagonal_fisher(model, tokenizer, exs)
    m = copy.deepcopy(model)
    mean_ll = sum(bayes.example_log_likelihood(m, render(e, tokenizer)) for e in exs) / len(exs)
    grads = torch.autograd.grad(mean_ll, list(m.parameters()))
    sq_of_mean = sum(float(g.pow(2).sum()) for g in grads)
    mean_of_sq = sum(float(f.sum()) for f in fisher.values())
    assert mean_of_sq > sq_of_mean  # Jensen: E[g²] ≥ E[g]², strictly when examples disagree


def test_normalise_fisher_has_mean_one(model, tokenizer):
    fisher = bayes.normalise_fisher(bayes.diagonal_fisher(model, tokenizer, examples(3)))
    total = sum(float(f.sum()) for f in fisher.values())
    count = sum(f.numel() for f in fisher.values())
    assert total / count == pytest.approx(1.0, rel=1e-5)
    with pytest.raises(ValueError, match="all zeros"):
        bayes.normalise_fisher({n: torch.zeros_like(f) for n, f in fisher.items()})


def test_scaled_penalty_and_answer_nll(model, tokenizer):
    theta0 = bayes.snapshot(model)
    moved = perturbed(model)
    pen = bayes.scaled(lambda m: bayes.l2_sp(m, theta0, 1.0), 0.25)
    assert pen(moved).item() == pytest.approx(0.25 * bayes.l2_sp(moved, theta0, 1.0).item())
    from itlib.train import masked_nll

    exs = examples(3)
    r = render(exs[0], tokenizer)
    ids, mask = torch.tensor([r.input_ids]), torch.tensor([r.loss_mask])
    with torch.no_grad():
        ref = masked_nll(model(input_ids=ids).logits, ids, mask).item()
    assert bayes.answer_nll(model, tokenizer, exs[:1]) == pytest.approx(ref, rel=1e-5)


def test_fit_with_l2_sp_stays_closer_to_theta0(model, tokenizer):
    from itlib.train import fit

    theta0 = bayes.snapshot(model)
    kwargs = {"epochs": 1.0, "lr": 3e-3, "batch_tokens": 256, "seed": 0, "device": "cpu", "progress": False}
    free, held = copy.deepcopy(model), copy.deepcopy(model)
    fit(free, tokenizer, examples(32), **kwargs)
    fit(held, tokenizer, examples(32), penalty=lambda m: bayes.l2_sp(m, theta0, 100.0), **kwargs)
    assert bayes.distance(held, theta0) < 0.7 * bayes.distance(free, theta0)
