"""coursekit.keras_utils: model keys, the model cache, the network monitor, ImageNet bases."""

import io
import json
import os
import socket
import urllib.request
from contextlib import redirect_stdout

import numpy as np
import pytest

from coursekit import keras_utils as kx

# Keras converts tensors with np.array(x, copy=False), which NumPy 2 flags; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

tf, keras = kx.import_tensorflow()
layers = keras.layers


def tiny_model(width=4, seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 8, 1))
    x = layers.Conv2D(width, 3, padding="same")(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(3, activation="softmax")(x))


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.random((16, 8, 8, 1), dtype=np.float32), rng.integers(0, 3, 16)


# --- keys ----------------------------------------------------------------------------


def test_key_is_stable_and_ignores_the_weights(data):
    x, y = data
    a, b = tiny_model(seed=0), tiny_model(seed=1)  # same architecture, other initial weights
    assert kx.model_key(a, x, y, epochs=3) == kx.model_key(b, x, y, epochs=3)
    assert len(kx.model_key(a, x, y)) == 12


def test_key_changes_with_architecture_data_and_settings(data):
    x, y = data
    base = kx.model_key(tiny_model(4), x, y, epochs=3, lr=1e-3)
    assert kx.model_key(tiny_model(5), x, y, epochs=3, lr=1e-3) != base
    assert kx.model_key(tiny_model(4), x[:-1], y[:-1], epochs=3, lr=1e-3) != base
    changed = x.copy()
    changed[0, 0, 0, 0] += 1
    assert kx.model_key(tiny_model(4), changed, y, epochs=3, lr=1e-3) != base
    assert kx.model_key(tiny_model(4), x, y, epochs=4, lr=1e-3) != base
    assert kx.model_key(tiny_model(4), x, y, lr=1e-3, epochs=3) == base  # order of keywords


def test_a_null_runs_settings_give_the_base_another_key(data):
    """Notebook 09's null run pre-trains for one mini-batch: its base must get a key of its own,
    so that it neither reads nor overwrites the real one."""
    x, y = data
    real = kx.model_key(tiny_model(), x, y, epochs=6, batches_per_epoch=None, lr=1e-3)
    null = kx.model_key(tiny_model(), x, y, epochs=1, batches_per_epoch=1, lr=1e-3)
    assert null != real
    # None ("the whole set") and a number are different settings, even with the same epochs
    assert kx.model_key(tiny_model(), x, y, epochs=6, batches_per_epoch=1, lr=1e-3) != real


# --- the cache -----------------------------------------------------------------------


def test_models_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(kx.ENV_MODELS, str(tmp_path))
    assert kx.models_dir() == tmp_path
    monkeypatch.delenv(kx.ENV_MODELS)
    assert kx.models_dir().parts[-2:] == ("build", "models")


def test_saved_model_reloads_with_the_same_outputs(tmp_path, data):
    x, y = data
    model = tiny_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=2, verbose=0)  # BatchNormalization's moving statistics move too
    path = kx.save_model(model, tmp_path / "m.keras", info={"epochs": 2})
    assert path.is_file() and not list(tmp_path.glob(".*tmp*"))
    assert json.loads((tmp_path / "m.json").read_text()) == {"epochs": 2}
    again = kx.load_cached(path)
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_save_model_wants_the_keras_format(tmp_path):
    with pytest.raises(ValueError, match=r"must end in \.keras"):
        kx.save_model(tiny_model(), tmp_path / "m.h5")


def test_missing_or_broken_cache_file_means_train_again(tmp_path):
    assert kx.load_cached(tmp_path / "none.keras") is None
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"not a zip file")
    out = io.StringIO()
    with redirect_stdout(out):
        assert kx.load_cached(broken) is None
    assert "could not read" in out.getvalue() and "training again" in out.getvalue()


def test_the_cache_round_trip_never_touches_the_network(tmp_path, data):
    x, y = data
    with kx.network_monitor(block=True) as net:
        model = tiny_model()
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.fit(x, y, epochs=1, verbose=0)
        path = kx.save_model(model, tmp_path / f"m-{kx.model_key(model, x, y)}.keras")
        kx.load_cached(path)
    assert net.attempts == []


# --- progress ------------------------------------------------------------------------


def test_progress_callback_prints_one_final_line_in_batch_mode(data, monkeypatch, capsys):
    monkeypatch.setenv("COURSEKIT_BATCH", "1")
    x, y = data
    model = tiny_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=3, verbose=0, callbacks=[kx.progress_callback(3, desc="fit")])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("fit: 3 of 3 in ") and "loss=" in lines[0]


# --- the network monitor -------------------------------------------------------------


def test_network_monitor_blocks_and_records():
    with kx.network_monitor(block=True) as net:
        with pytest.raises(OSError, match="blocked by coursekit"):
            socket.create_connection(("192.0.2.1", 443), timeout=0.1)  # TEST-NET: unroutable
        with pytest.raises(OSError):
            urllib.request.urlopen("https://example.invalid/file", timeout=0.1)
    assert len(net.attempts) == 2
    assert socket.getaddrinfo.__module__ == "socket"  # restored


def test_network_monitor_leaves_local_sockets_alone():
    with kx.network_monitor(block=True) as net:
        a, b = socket.socketpair()  # AF_UNIX: no network
        a.sendall(b"x")
        assert b.recv(1) == b"x"
        a.close()
        b.close()
    assert net.attempts == []


# --- ImageNet bases ------------------------------------------------------------------


def test_imagenet_base_offline_without_download_says_so_and_touches_nothing(tmp_path):
    out = io.StringIO()
    with kx.network_monitor(block=True) as net, redirect_stdout(out):
        base = kx.imagenet_base("mobilenet_v2", (8, 8, 1), download=False, cache_dir=tmp_path)
    assert base is None and net.attempts == []
    lines = out.getvalue().strip().splitlines()
    assert len(lines) == 1
    assert "not in the Keras cache" in lines[0] and "pre-trained in this notebook" in lines[0]
    assert not any(tmp_path.rglob("*.h5"))


def test_imagenet_base_download_that_fails_falls_back_in_one_line(tmp_path):
    out = io.StringIO()
    with kx.network_monitor(block=True) as net, redirect_stdout(out):
        base = kx.imagenet_base("mobilenet_v2", (8, 8, 1), download=True, cache_dir=tmp_path)
    assert base is None and net.attempts  # it tried, and the monitor stopped it
    fallback = [line for line in out.getvalue().splitlines() if line.startswith("coursekit:")]
    assert len(fallback) == 1 and "could not download" in fallback[0]
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]  # no partial file left


def test_imagenet_base_uses_cached_weights_without_the_network(tmp_path, monkeypatch):
    cached = kx.imagenet_weights_file("mobilenet_v2", tmp_path)
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"weights")
    seen = {}

    def fake_model(name, image_shape, weights=None):
        seen.update(name=name, image_shape=image_shape, weights=weights)
        return "a model"

    monkeypatch.setattr(kx, "imagenet_model", fake_model)
    with kx.network_monitor(block=True) as net:
        got = kx.imagenet_base("mobilenet_v2", (8, 8, 1), download=True, cache_dir=tmp_path)
    assert got == "a model" and net.attempts == []
    assert seen == dict(name="mobilenet_v2", image_shape=(8, 8, 1), weights=cached)


def test_unknown_imagenet_base_is_named():
    with pytest.raises(ValueError, match=r"base='resnet' is not allowed.*mobilenet_v2"):
        kx.imagenet_base("resnet", (8, 8, 1))


def test_imagenet_model_maps_small_grey_images_to_features():
    model = kx.imagenet_model("mobilenet_v2", (8, 8, 1), weights=None)
    features = model(np.zeros((2, 8, 8, 1), dtype=np.float32), training=False)
    assert tuple(features.shape) == (2, 1280)


# --- the quiet import ----------------------------------------------------------------


def test_native_writes_to_stderr_are_captured_and_the_descriptor_restored(capfd):
    with kx._stderr_captured() as log:
        os.write(2, b"E0000 a C++ line\n")
    assert log.read_text() == "E0000 a C++ line\n"
    log.unlink()
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "after\n"


def test_import_tensorflow_returns_the_modules():
    assert kx.import_tensorflow() == (tf, keras)
