"""Notebook 09's exercises: the bookkeeping every Keras classifier needs, written in NumPy.

One-hot labels (oracle: ``keras.utils.to_categorical``), the normalisation a
``Normalization`` layer applies (oracle: the layer itself, given the mean and variance), and
the cross-entropy of predicted probabilities (oracle:
``keras.losses.SparseCategoricalCrossentropy``). Keras is imported only when a check runs.
"""

from __future__ import annotations

import numpy as np

from coursekit.exercise import Case, Exercise, register


def _keras():
    from coursekit import keras_utils

    return keras_utils.import_tensorflow()[1]  # quietly: no C++ start-up lines


# --- 09.one_hot ---------------------------------------------------------------------------


def _one_hot_cases():
    rng = np.random.default_rng(9)
    return [
        Case("labels 0 to 9", (np.arange(10), 10), "each class once"),
        Case("40 random digits", (rng.integers(0, 10, 40), 10), "a batch"),
        Case("3 classes", (np.array([2, 0, 1, 1]), 3), "num_classes = 3"),
    ]


register(
    Exercise(
        name="09.one_hot",
        what="one_hot(labels, num_classes): an (n, num_classes) array with a 1 at each label's "
        "class and 0 elsewhere",
        oracle="keras.utils.to_categorical",
        reference=lambda labels, k: _keras().utils.to_categorical(labels, k),
        fallback=lambda labels, k: np.eye(k, dtype="float32")[np.asarray(labels)],
        cases=_one_hot_cases,
        hint="row i is all zeros but a 1 in column labels[i]: np.eye(num_classes)[labels]",
        rtol=0,
        atol=0,
        wrong=(
            lambda labels, k: np.eye(k)[np.asarray(labels)].T,  # one column per example
            lambda labels, k: np.eye(k)[(np.asarray(labels) + 1) % k],  # off by one class
        ),
    )
)


# --- 09.normalise -------------------------------------------------------------------------


def _normalise_cases():
    rng = np.random.default_rng(9)
    images = rng.uniform(0, 1, size=(6, 8, 8, 1)).astype("float32")
    return [
        Case("6 images, mean 0.5, variance 0.08", (images, 0.5, 0.08), "the usual pixel scale"),
        Case("the same, mean 0.2, variance 1.5", (images, 0.2, 1.5), "variance above 1"),
        Case("a flat vector", (images.reshape(6, -1), 0.1, 0.01), "shape (6, 64)"),
    ]


def _normalise_reference(x, mean, variance):
    layer = _keras().layers.Normalization(mean=mean, variance=variance)
    return np.asarray(layer(x))


register(
    Exercise(
        name="09.normalise",
        what="normalise_pixels(x, mean, variance): what a Normalization layer does to its input, "
        "(x - mean) / sqrt(variance)",
        oracle="keras.layers.Normalization(mean=..., variance=...)",
        reference=_normalise_reference,
        fallback=lambda x, mean, variance: (x - mean) / np.sqrt(variance),
        cases=_normalise_cases,
        hint="subtract the mean and divide by the standard deviation, the square root of the variance",
        rtol=1e-5,
        atol=1e-6,
        wrong=(
            lambda x, mean, variance: (x - mean) / variance,  # the variance, not its square root
            lambda x, mean, variance: x / np.sqrt(variance) - mean,  # scaled before it is centred
        ),
    )
)


# --- 09.cross_entropy ---------------------------------------------------------------------


def _ce_cases():
    rng = np.random.default_rng(9)
    logits = rng.normal(size=(20, 10))
    probabilities = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = rng.integers(0, 10, 20)
    confident = np.full((3, 4), 0.02)
    confident[np.arange(3), [1, 3, 0]] = 0.94
    return [
        Case("20 predictions of 10 classes", (probabilities, labels), "softmax of random logits"),
        Case("3 confident predictions, all right", (confident, np.array([1, 3, 0])), "p = 0.94"),
        Case("the same, all wrong", (confident, np.array([0, 0, 1])), "p = 0.02 for the truth"),
    ]


def _ce_reference(probabilities, labels):
    loss = _keras().losses.SparseCategoricalCrossentropy()
    return float(np.asarray(loss(labels, probabilities.astype("float32"))))


register(
    Exercise(
        name="09.cross_entropy",
        what="cross_entropy(probabilities, labels): the mean over the examples of "
        "-log(the probability given to the true class), in nats",
        oracle="keras.losses.SparseCategoricalCrossentropy",
        reference=_ce_reference,
        fallback=lambda p, y: float(-np.mean(np.log(p[np.arange(len(y)), y]))),
        cases=_ce_cases,
        hint="pick each row's probability at its label, p[np.arange(n), labels], then the mean of "
        "minus its natural log",
        rtol=1e-5,
        atol=1e-6,
        wrong=(
            lambda p, y: float(
                -np.mean(np.log(p.max(axis=1)))
            ),  # the top probability, not the truth's
            lambda p, y: float(-np.sum(np.log(p[np.arange(len(y)), y]))),  # summed, not averaged
            lambda p, y: float(-np.mean(np.log2(p[np.arange(len(y)), y]))),  # in bits
        ),
    )
)
