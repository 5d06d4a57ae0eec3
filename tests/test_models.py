"""coursekit.models and coursekit.images: shapes for 8x8 and 28x28 digits, and behaviour."""

import numpy as np
import pytest
import torch

from coursekit import images, models

SHAPES = [(8, 8), (28, 28)]


@pytest.mark.parametrize("shape", SHAPES)
def test_vae_networks_fit_the_image_shape(shape):
    torch.manual_seed(0)
    enc, dec = models.VAEEncoder(shape, z_dim=5, hidden=32), models.VAEDecoder(shape, 5, 32)
    x = torch.rand(7, 1, *shape)
    loc, scale = enc(x)
    assert loc.shape == scale.shape == (7, 5)
    assert (scale > 0).all()
    logits = dec(loc)
    assert logits.shape == (7, shape[0] * shape[1])
    probs = dec.images(loc)
    assert probs.shape == (7, 1, *shape) and 0 <= probs.min() and probs.max() <= 1


@pytest.mark.parametrize("shape", SHAPES)
def test_dcgan_shapes_and_ranges(shape):
    torch.manual_seed(0)
    g, d = models.DCGANGenerator(shape, z_dim=16, width=8), models.DCGANDiscriminator(shape, 8)
    g.apply(models.dcgan_init)
    d.apply(models.dcgan_init)
    fake = g(torch.randn(5, 16))
    assert fake.shape == (5, 1, *shape)
    assert fake.min() >= -1 and fake.max() <= 1  # tanh output
    assert d(fake).shape == (5,)


def test_dcgan_follows_the_architecture_rules():
    g, d = models.DCGANGenerator((28, 28), 16, 8), models.DCGANDiscriminator((28, 28), 8)
    layers = [type(m) for m in g.modules()] + [type(m) for m in d.modules()]
    assert not any(issubclass(t, torch.nn.modules.pooling._MaxPoolNd) for t in layers)
    assert isinstance(g.net[-1], torch.nn.Tanh)
    assert not any(isinstance(m, torch.nn.Linear) for m in [*g.modules(), *d.modules()])
    assert not isinstance(d.net[1], torch.nn.BatchNorm2d)  # no batch norm on D's input layer
    assert any(isinstance(m, torch.nn.LeakyReLU) for m in d.modules())
    assert [m.stride for m in d.modules() if isinstance(m, torch.nn.Conv2d)][:2] == [(2, 2)] * 2


def test_dcgan_init_statistics():
    torch.manual_seed(0)
    g = models.DCGANGenerator((28, 28), 64, 64)
    g.apply(models.dcgan_init)
    w = g.net[3].weight
    assert abs(w.mean().item()) < 2e-3 and w.std().item() == pytest.approx(0.02, rel=0.05)
    assert g.net[1].weight.mean().item() == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("shape", [(8, 10), (27, 28), (3,)])
def test_bad_image_shapes_are_refused(shape):
    with pytest.raises(ValueError, match="image_shape"):
        models.DCGANGenerator(shape)


@pytest.mark.parametrize("shape", SHAPES)
def test_classifier_shapes(shape):
    c = models.DigitClassifier(shape, features=12)
    x = torch.rand(3, 1, *shape)
    assert c(x).shape == (3, 10)
    assert c.features(x).shape == (3, 12)
    assert (c.features(x) >= 0).all()  # after a ReLU
    feats = models.predict(c, torch.rand(25, 1, *shape), batch_size=10, what="features")
    assert feats.shape == (25, 12)
    with pytest.raises(ValueError, match="what="):
        models.predict(c, x, what="probs")


def test_classifier_learns_the_eight_by_eight_digits():
    from coursekit import data

    digits = data.load_digits()
    torch.manual_seed(0)
    model = models.train_classifier(digits.x_train, digits.y_train, epochs=8, seed=0)
    assert not model.training
    accuracy = (models.predict(model, digits.x_test).argmax(1) == digits.y_test).float().mean()
    assert accuracy > 0.9


def test_classifier_training_is_seeded():
    x, y = torch.rand(64, 1, 8, 8), torch.randint(0, 10, (64,))
    outs = []
    for _ in range(2):
        torch.manual_seed(1)
        m = models.train_classifier(x, y, epochs=2, batch_size=16, seed=3)
        outs.append(models.predict(m, x))
    torch.testing.assert_close(outs[0], outs[1], rtol=0, atol=0)


def test_classifier_with_zero_epochs_is_the_untrained_network():
    x, y = torch.rand(32, 1, 8, 8), torch.randint(0, 10, (32,))
    torch.manual_seed(2)
    untrained = models.train_classifier(x, y, epochs=0, seed=0)
    torch.manual_seed(2)
    fresh = models.DigitClassifier((8, 8))
    assert not untrained.training
    for a, b in zip(untrained.state_dict().values(), fresh.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    with pytest.raises(ValueError, match="epochs"):
        models.train_classifier(x, y, epochs=-1)


def test_grid_layout():
    x = np.arange(5 * 2 * 3, dtype=np.float32).reshape(5, 1, 2, 3)
    g = images.grid(x, ncols=2, pad=1, pad_value=-1)
    assert g.shape == (3 * 3 + 1, 2 * 4 + 1)
    np.testing.assert_array_equal(g[1:3, 1:4], x[0, 0])
    np.testing.assert_array_equal(g[1:3, 5:8], x[1, 0])
    np.testing.assert_array_equal(g[7:9, 1:4], x[4, 0])
    assert (g[7:9, 5:8] == -1).all()  # no sixth image: padding
    assert images.grid(torch.zeros(3, 4, 4), ncols=10).shape == (6, 16)  # ncols capped at N


def test_grid_refuses_colour_and_empty():
    with pytest.raises(ValueError, match="one channel"):
        images.grid(np.zeros((2, 3, 4, 4)))
    with pytest.raises(ValueError, match="N >= 1"):
        images.grid(np.zeros((0, 4, 4)))
