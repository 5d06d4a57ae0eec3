"""Published numbers that a notebook's results can be set beside, on the results page.

    references_for("05_vae")       # the references of a notebook's topic
    ref.applies_to(recorded_run)   # only beside a run on the same data as the experiment

Each :class:`Reference` quotes a number as its source states it, with the data the
published experiment used: a published MNIST number is shown beside a run on MNIST's
official split, never beside a run on the 8x8 digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Reference:
    """A published number a notebook can be compared with."""

    quantity: str  # what was measured, and on what
    value: str  # the number as its source states it
    source: str
    url: str
    check: str = ""  # the name of the notebook's check it corresponds to, if one does
    # The data the published experiment used, as a run records it (Run.load_data: "digits",
    # "mnist-official", "mnist-t10k"); "" where the notebook makes its own data. A published
    # number is set beside a run only when the run used the same data.
    dataset: str = ""

    def applies_to(self, data: dict | None) -> bool:
        return bool(data) and self.dataset in ("", data_key(data))


_PYRO_SVI = "Pyro tutorial, SVI Part I"
_PYRO_SVI_URL = "https://pyro.ai/examples/svi_part_i.html"
_PYRO_VAE = "Pyro tutorial, Variational Autoencoders (read off its plot)"
_PYRO_VAE_URL = "https://pyro.ai/examples/vae.html"
_LECUN = "LeCun, Bottou, Bengio and Haffner 1998, Gradient-based learning applied to document recognition"
_LECUN_URL = "https://doi.org/10.1109/5.726791"
_GOYAL = Reference(
    "ResNet-50 on ImageNet with batch 8k: linear learning-rate scaling and gradual warm-up",
    "1 hour on 256 GPUs, no loss of accuracy",
    "Goyal et al. 2017",
    "https://arxiv.org/abs/1706.02677",
    dataset="ImageNet",
)

# Published numbers, keyed by topic. A notebook gets the references of its topic, the name
# after the number (``04_svi_coin_toss`` -> "svi_coin_toss"), and of each word of it
# (``05_vae_mnist`` -> "vae", "mnist"), a word in ALIASES standing for its key. The results
# page lists all of them at its end, so that a reference no notebook matches is still shown.
REFERENCES: dict[str, list[Reference]] = {
    "svi_coin_toss": [
        Reference(
            "Posterior mean of the coin's fairness, Beta(10, 10) prior, 6 heads and 4 tails",
            "0.532 ± 0.090 after 2000 Adam steps (lr 5e-4); exact Beta(16, 14): 0.5333",
            _PYRO_SVI,
            _PYRO_SVI_URL,
            check="SVI posterior mean",
        ),
        Reference(
            "Posterior standard deviation of the fairness",
            "0.090 (SVI); exact Beta(16, 14): 0.0896",
            _PYRO_SVI,
            _PYRO_SVI_URL,
            check="SVI posterior sd",
        ),
    ],
    "vae": [
        Reference(
            "Test ELBO on MNIST's official split at epoch 20, z 50, hidden 400, Adam 1e-3, batch 256",
            "-104.5 (about -108 at epoch 10, about -101 at epoch 95)",
            _PYRO_VAE,
            _PYRO_VAE_URL,
            check="tutorial's recipe: test ELBO at epoch 20",
            dataset="mnist-official",
        ),
        Reference(
            "Test ELBO on MNIST's official split at epoch 10, the same recipe",
            "about -108",
            _PYRO_VAE,
            _PYRO_VAE_URL,
            check="tutorial's recipe: test ELBO at epoch 10",
            dataset="mnist-official",
        ),
    ],
    "transfer_learning": [
        Reference(
            "LeNet-5's test error on MNIST's official split (no distortions)",
            "0.95% (0.8% with distorted training images)",
            _LECUN,
            _LECUN_URL,
            check="LeNet-5 on MNIST's official split: test error (%)",
            dataset="mnist-official",
        ),
        Reference(
            "A dense net with one hidden layer of 300 units, the same split",
            "4.7% test error",
            _LECUN,
            _LECUN_URL,
            check="dense net (300 hidden) on MNIST's official split: test error (%)",
            dataset="mnist-official",
        ),
    ],
    "gan": [
        Reference(
            "DCGAN discriminator features as a classifier",
            "82.8% accuracy on CIFAR-10; 22.48% error on SVHN with 1000 labels",
            "Radford et al. 2015",
            "https://arxiv.org/abs/1511.06434",
            dataset="CIFAR-10, SVHN",
        )
    ],
    "large_batch": [
        Reference(
            "BERT pre-training with LAMB at batch 32k/64k",
            "8599 iterations, 76 minutes on a TPUv3 pod instead of 3 days",
            "You et al. 2019",
            "https://arxiv.org/abs/1904.00962",
            dataset="BERT's corpora (Wikipedia, BooksCorpus)",
        ),
        _GOYAL,
    ],
    "horovod": [
        Reference(
            "Scaling efficiency on 128 servers of 4 Pascal GPUs",
            "90% for Inception V3 and ResNet-101, 68% for VGG-16",
            "Horovod README",
            "https://github.com/horovod/horovod",
            dataset="ImageNet (synthetic benchmark)",
        ),
        _GOYAL,
    ],
    "probabilistic_programming": [
        Reference(
            "NUTS on a GPU in Edward2, against Stan and PyMC3",
            "100x faster than Stan, 37x faster than PyMC3 (a later version: 20x and 7x)",
            "Tran et al. 2018, Simple, Distributed, and Accelerated Probabilistic Programming",
            "https://arxiv.org/abs/1811.02091",
            dataset="covertype",
        )
    ],
}
# Other names a notebook on the same topic may have.
ALIASES = {"lamb": "large_batch", "gans": "gan", "dcgan": "gan", "ppl": "probabilistic_programming"}


def data_key(data: dict) -> str:
    """The data a recorded run used ("digits", "mnist-official", ...), or "not recorded"."""
    return (data.get("data") or {}).get("key", "not recorded")


def references_for(stem: str) -> list[Reference]:
    topic = stem.split("_", 1)[1] if re.match(r"\d\d_", stem) else stem
    found = []
    for key in [topic, *topic.split("_")]:
        for ref in REFERENCES.get(ALIASES.get(key, key), []):
            if ref not in found:
                found.append(ref)
    return found
