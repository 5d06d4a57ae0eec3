"""Networks of the deep generative model notebooks, sized from the images they work on.

Every network takes ``image_shape`` (height, width): the same code serves scikit-learn's
8x8 digits and 28x28 MNIST.

* :class:`VAEEncoder`, :class:`VAEDecoder` -- the two multilayer perceptrons of a
  variational autoencoder: an image to the mean and scale of q(z|x), and a code z to
  the logits of p(x|z)'s pixels (notebook 05).
* :class:`DCGANGenerator`, :class:`DCGANDiscriminator` -- a deep convolutional GAN
  after Radford, Metz and Chintala (2016): strided convolutions instead of pooling,
  batch normalisation, ReLU in the generator with a tanh output, LeakyReLU in the
  discriminator (notebook 06). Height and width must be multiples of 4.
* :class:`DigitClassifier` and :func:`train_classifier` -- a small convolutional
  classifier, the measuring instrument for generated digits: its confidence, the
  classes it sees, and its features for the Frechet distance (notebook 06).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from coursekit import validate


def _pixels(image_shape) -> int:
    height, width = _shape(image_shape)
    return height * width


def _shape(image_shape) -> tuple[int, int]:
    shape = tuple(int(s) for s in image_shape)
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f"image_shape must be (height, width), got {image_shape!r}")
    return shape


def _quarter(image_shape) -> tuple[int, int]:
    """(height / 4, width / 4): the feature map size after two stride-2 layers."""
    height, width = _shape(image_shape)
    if height % 4 or width % 4:
        raise ValueError(
            f"image_shape={image_shape!r}: height and width must be multiples of 4, since the "
            "DCGAN networks halve (or double) them twice"
        )
    return height // 4, width // 4


# --- Variational autoencoder ------------------------------------------------------------


class VAEEncoder(nn.Module):
    """q(z | x)'s network: an image to the mean and standard deviation of a diagonal Gaussian.

    One hidden layer with softplus, as in Pyro's VAE tutorial; the scale is the
    exponential of a linear output, so it is positive.
    """

    def __init__(self, image_shape, z_dim: int, hidden: int):
        super().__init__()
        self.image_shape, self.z_dim = _shape(image_shape), z_dim
        self.hidden = nn.Linear(_pixels(image_shape), hidden)
        self.loc = nn.Linear(hidden, z_dim)
        self.log_scale = nn.Linear(hidden, z_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = F.softplus(self.hidden(x.flatten(1)))
        return self.loc(h), torch.exp(self.log_scale(h))


class VAEDecoder(nn.Module):
    """p(x | z)'s network: a code z to one logit per pixel, flattened to (N, height * width).

    Logits rather than probabilities: ``Bernoulli(logits=...)`` computes the
    log-likelihood without taking the log of a sigmoid that has rounded to 0 or 1.
    """

    def __init__(self, image_shape, z_dim: int, hidden: int):
        super().__init__()
        self.image_shape, self.z_dim = _shape(image_shape), z_dim
        self.hidden = nn.Linear(z_dim, hidden)
        self.logits = nn.Linear(hidden, _pixels(image_shape))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.logits(F.softplus(self.hidden(z)))

    def images(self, z: torch.Tensor) -> torch.Tensor:
        """Each pixel's probability, shaped as images (N, 1, height, width)."""
        return torch.sigmoid(self(z)).view(-1, 1, *self.image_shape)


# --- DCGAN ------------------------------------------------------------------------------


class DCGANGenerator(nn.Module):
    """z (N, z_dim) -> images (N, 1, height, width) in [-1, 1].

    A transposed convolution projects z onto a (2 * width) x height/4 x width/4 map, and two
    stride-2 transposed convolutions double it twice. Batch norm and ReLU after every layer
    but the last, which ends in tanh.
    """

    def __init__(self, image_shape, z_dim: int = 64, width: int = 64):
        super().__init__()
        self.image_shape, self.z_dim = _shape(image_shape), z_dim
        base = _quarter(image_shape)
        self.net = nn.Sequential(
            nn.ConvTranspose2d(z_dim, 2 * width, kernel_size=base, bias=False),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(),
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.ConvTranspose2d(width, 1, 4, stride=2, padding=1),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(len(z), self.z_dim, 1, 1))


class DCGANDiscriminator(nn.Module):
    """images (N, 1, height, width) in [-1, 1] -> one logit each, shape (N,).

    Two stride-2 convolutions (no pooling) halve the image twice; a last convolution the
    size of what is left gives the logit. LeakyReLU(0.2) throughout; batch norm on the
    second layer (not on the input layer, as the DCGAN paper advises). D(x) is
    ``sigmoid(logit)``; losses take the logit, which is numerically safer.
    """

    def __init__(self, image_shape, width: int = 64):
        super().__init__()
        self.image_shape = _shape(image_shape)
        base = _quarter(image_shape)
        self.net = nn.Sequential(
            nn.Conv2d(1, width, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(2 * width),
            nn.LeakyReLU(0.2),
            nn.Conv2d(2 * width, 1, kernel_size=base),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten()


def dcgan_init(module: nn.Module) -> None:
    """The DCGAN paper's initialisation: weights N(0, 0.02); batch-norm scales N(1, 0.02).

    Use as ``net.apply(dcgan_init)``.
    """
    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


# --- A digit classifier, to measure generated digits --------------------------------------


class DigitClassifier(nn.Module):
    """A small CNN for digits in [0, 1]: two 3x3 convolutions with max-pooling, a hidden
    layer of ``features`` units whose activations :meth:`features` returns, and 10 logits.
    """

    def __init__(self, image_shape, features: int = 64, classes: int = 10):
        super().__init__()
        self.image_shape = _shape(image_shape)
        quarter = _quarter(image_shape)
        self.conv = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(32 * math.prod(quarter), features),
            nn.ReLU(),
        )
        self.head = nn.Linear(features, classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.conv(x))


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 1000, what: str = "logits"):
    """``model(x)`` (what="logits") or ``model.features(x)`` (what="features") in batches,
    in eval mode, on the model's device; returns a tensor on that device."""
    if what not in ("logits", "features"):
        raise ValueError(f"what={what!r} is not allowed: it must be 'logits' or 'features'")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    fn = model if what == "logits" else model.features
    out = torch.cat([fn(x[i : i + batch_size].to(device)) for i in range(0, len(x), batch_size)])
    model.train(was_training)
    return out


def train_classifier(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int = 5,
    batch_size: int = 64,
    lr: float = 3e-3,
    features: int = 64,
    seed: int = 0,
    device: torch.device | str = "cpu",
    augment: bool = False,
) -> DigitClassifier:
    """Fit a :class:`DigitClassifier` to images ``x`` (N, 1, H, W) in [0, 1] and labels ``y``
    with Adam and cross-entropy; the learning rate falls linearly to 0 over the epochs.

    ``augment`` shifts each training batch by up to one pixel either way (with wrap-around),
    a guard against a classifier that knows only digits drawn exactly in the centre; it
    suits 28x28 MNIST, not 8x8 digits, where one pixel is an eighth of the image. The batch
    order and the shifts come from a generator seeded with ``seed``; the weights are
    initialised from torch's global generator, which the caller seeds. Returns the model in
    eval mode. ``epochs=0`` returns the untrained network, as a null run needs: an
    instrument with the learning taken out.
    """
    epochs = validate.integer("epochs", epochs, minimum=0)
    batch_size = validate.integer("batch_size", batch_size, minimum=1)
    device = torch.device(device)
    model = DigitClassifier(tuple(x.shape[-2:]), features=features).to(device)
    x, y = x.to(device), y.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    steps = max(1, epochs * math.ceil(len(x) / batch_size))
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 - step / steps)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=generator).to(device)
        for i in range(0, len(x), batch_size):
            idx = order[i : i + batch_size]
            batch = x[idx]
            if augment:
                dy, dx = torch.randint(-1, 2, (2,), generator=generator).tolist()
                batch = torch.roll(batch, shifts=(dy, dx), dims=(2, 3))
            loss = F.cross_entropy(model(batch), y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
    return model.eval()


__all__ = [
    "DCGANDiscriminator",
    "DCGANGenerator",
    "DigitClassifier",
    "VAEDecoder",
    "VAEEncoder",
    "dcgan_init",
    "predict",
    "train_classifier",
]
