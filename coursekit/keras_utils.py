"""Keras helpers for the transfer-learning notebook.

    from coursekit import keras_utils as kx
    tf, keras = kx.import_tensorflow()          # quiet: no C++ start-up lines in the notebook
    key = kx.model_key(model, x, y, epochs=10)  # what the model is and what it is trained on
    path = kx.models_dir() / f"digits-base-{key}.keras"
    model = kx.load_cached(path) or train_and_save(...)
    model.fit(..., verbose=0, callbacks=[kx.progress_callback(epochs, desc="pre-training")])
    with kx.network_monitor() as net: ...      # net.attempts: connections tried in the block
    base = kx.imagenet_base("mobilenet_v2", (8, 8, 1), download=False)  # None: not available

Nothing here imports TensorFlow or Keras at module level: ``import_tensorflow`` must be able
to run before either is imported.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from coursekit.bars import progress

ENV_MODELS = "COURSEKIT_MODELS"
KEY_VERSION = 1  # bump to retrain every cached model (a change in how keys are made)


# --- A quiet import -------------------------------------------------------------------


@contextlib.contextmanager
def _stderr_captured() -> Iterator[Path]:
    """Send file descriptor 2 to a temporary file for the block; yields the file's path.

    TensorFlow's C++ start-up lines are written by native code straight to descriptor 2,
    before TF_CPP_MIN_LOG_LEVEL is read (absl's "before absl::InitializeLog()" lines in
    TensorFlow 2.21), so Python's sys.stderr cannot filter them.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.NamedTemporaryFile("w+b", prefix="coursekit-stderr-", delete=False) as tmp:
        path = Path(tmp.name)
    try:
        with open(path, "wb") as sink:
            os.dup2(sink.fileno(), 2)
        yield path
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def import_tensorflow(min_log_level: int = 3):
    """Import TensorFlow and Keras without the C++ log lines that say nothing to a learner.

    Returns ``(tf, keras)``. Two kinds of lines are kept out of the way:

    * those written while TensorFlow loads, before its logging reads any setting: they go to
      a temporary file (``quiet_import_log`` keeps them), shown only if the import fails;
    * those written later with a severity below ``min_log_level``, which TensorFlow reads from
      ``TF_CPP_MIN_LOG_LEVEL`` (severities: 0 info, 1 warning, 2 error, 3 fatal). ck.setup
      sets 2, if nothing did before; the default here, 3, also hides C++ "errors"
      such as TF 2.21's "NodeDef mentions attribute use_unbounded_threadpool ...", printed at
      the first ``fit`` under op determinism and harmless. Real failures still raise Python
      exceptions with their message. Pass 2 (or 0) when debugging TensorFlow itself.

    The level is read when TensorFlow is first imported: this has no effect afterwards.
    """
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = str(min_log_level)
    if "tensorflow" in sys.modules:
        import keras
        import tensorflow as tf

        return tf, keras
    with _stderr_captured() as log:
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()  # CUDA is probed (and logs) here, once
        except Exception:
            sys.stderr.write(log.read_text(errors="replace"))
            raise
        finally:
            text = log.read_text(errors="replace")
            log.unlink(missing_ok=True)
    import keras

    quiet_import_log.clear()
    quiet_import_log.extend(text.splitlines())
    return tf, keras


quiet_import_log: list[str] = []  # what the quiet import held back, for the curious


# --- Cached models -------------------------------------------------------------------


def models_dir() -> Path:
    """``$COURSEKIT_MODELS`` if set, else ``<repo>/build/models`` (next to build/results)."""
    if os.environ.get(ENV_MODELS):
        return Path(os.environ[ENV_MODELS])
    repo = Path(__file__).resolve().parents[1]
    root = repo if (repo / "pyproject.toml").exists() else Path.cwd()
    return root / "build" / "models"


def _architecture(model) -> str:
    """The model's JSON config with layer names replaced by their order of appearance:
    Keras numbers automatic names per session (conv2d, conv2d_1, ...), so the same
    architecture built twice would otherwise read as two."""
    config = json.loads(model.to_json())
    names: dict[str, str] = {}

    def collect(node):
        if isinstance(node, dict):
            inner = node.get("config")
            if "class_name" in node and isinstance(inner, dict) and "name" in inner:
                names.setdefault(inner["name"], f"layer{len(names)}")
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    def rename(node):
        if isinstance(node, dict):
            return {key: rename(value) for key, value in node.items()}
        if isinstance(node, list):
            return [rename(value) for value in node]
        return names.get(node, node) if isinstance(node, str) else node

    collect(config)
    return json.dumps(rename(config), sort_keys=True)


def model_key(model, *arrays, length: int = 12, **settings) -> str:
    """A short hash of what a trained model depends on: its architecture (the model's JSON
    config, layer names aside; not its weights), the training arrays (dtype, shape and bytes) and the training
    settings given as keywords. Change any of them and the key changes."""
    import numpy as np

    h = hashlib.sha256(f"coursekit.keras_utils key v{KEY_VERSION}\n".encode())
    h.update(_architecture(model).encode())
    for a in arrays:
        a = np.ascontiguousarray(np.asarray(a))
        h.update(f"\n{a.dtype.str} {a.shape}\n".encode())
        h.update(a.tobytes())
    h.update(json.dumps(settings, sort_keys=True, default=repr).encode())
    return h.hexdigest()[:length]


def save_model(model, path, info: dict | None = None) -> Path:
    """Save ``model`` in the ``.keras`` format, atomically (a reader never sees half a file),
    with ``info`` beside it as ``<name>.json`` so a person can see what the file holds."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"path={str(path)!r} is not allowed: it must end in .keras")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.keras")
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    if info is not None:
        sidecar = path.with_suffix(".json")
        sidecar.write_text(json.dumps(info, indent=2, sort_keys=True, default=repr) + "\n")
    return path


def load_cached(path):
    """The model saved at ``path``, or ``None`` if there is none or it cannot be read (a
    file from an incompatible Keras, say: then one line says so and it is trained again)."""
    import keras

    path = Path(path)
    if not path.is_file():
        return None
    try:
        return keras.models.load_model(path)
    except Exception as err:  # any unreadable file means "train again", never a crash
        print(f"coursekit: could not read {path} ({type(err).__name__}: {err}); training again")
        return None


# --- Progress ------------------------------------------------------------------------


def progress_callback(epochs: int, desc: str = "training", metrics: tuple = ("loss",)):
    """A Keras callback showing ``fit``'s epochs as one coursekit progress bar.

    Use it with ``verbose=0``: Keras' own display prints a line or a bar per epoch; this
    one is a single bar (in batch runs, a single final line) with the last ``metrics``.
    """
    import keras

    class ProgressBar(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.bar = progress(total=epochs, desc=desc, unit="epoch")

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            shown = {m: f"{logs[m]:.3g}" for m in metrics if m in logs}
            self.bar.set_postfix(shown, refresh=False)
            self.bar.update(1)

        def on_train_end(self, logs=None):
            self.bar.close()

    return ProgressBar()


# --- The network ---------------------------------------------------------------------


class NetworkBlocked(OSError):
    """A connection was attempted inside ``network_monitor(block=True)``."""


class _Monitor:
    def __init__(self, block: bool):
        self.block = block
        self.attempts: list[str] = []


@contextlib.contextmanager
def network_monitor(block: bool = False) -> Iterator[_Monitor]:
    """Record every connection (and name look-up) the code in the block tries.

    ``block=True`` also stops each one with ``NetworkBlocked`` (an ``OSError``, which is
    what code that handles "no network" expects), so a test can prove an offline path
    never reaches out. Patches Python's socket module only: ZMQ sockets of a Jupyter
    kernel are untouched.
    """
    monitor = _Monitor(block)
    originals = {
        "connect": socket.socket.connect,
        "connect_ex": socket.socket.connect_ex,
        "getaddrinfo": socket.getaddrinfo,
    }

    def note(what: str):
        monitor.attempts.append(what)
        if block:
            raise NetworkBlocked(f"network access blocked by coursekit: {what}")

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            note(f"connect {address!r}")
        return originals["connect"](self, address)

    def connect_ex(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            note(f"connect {address!r}")
        return originals["connect_ex"](self, address)

    def getaddrinfo(host, *args, **kwargs):
        note(f"look up {host!r}")
        return originals["getaddrinfo"](host, *args, **kwargs)

    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex
    socket.getaddrinfo = getaddrinfo
    try:
        yield monitor
    finally:
        socket.socket.connect = originals["connect"]
        socket.socket.connect_ex = originals["connect_ex"]
        socket.getaddrinfo = originals["getaddrinfo"]


# --- ImageNet bases --------------------------------------------------------------------

# Keras' own file names and address for these weights (keras/src/applications/).
_IMAGENET = {
    "mobilenet_v2": dict(
        size=96,
        file="mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_96_no_top.h5",
        origin="https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/",
    ),
}
IMAGENET_BASES = tuple(_IMAGENET)


def keras_cache_dir() -> Path:
    """Where Keras keeps downloaded files: ``$KERAS_HOME``, else ``~/.keras``."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras")


def imagenet_weights_file(name: str, cache_dir=None) -> Path:
    """The path Keras downloads ``name``'s ImageNet weights (no top) to."""
    spec = _IMAGENET[name]
    return Path(cache_dir or keras_cache_dir()) / "models" / spec["file"]


def imagenet_model(name: str, image_shape: tuple, weights=None):
    """``name`` (an ImageNet Keras application, no top, average-pooled) as a model from
    images of ``image_shape`` (H, W, channels, pixels in [0, 1]) to a feature vector.

    The images are resized to the size the weights were trained at, grey is copied to
    three channels, and pixels are scaled to [-1, 1] as MobileNetV2 expects. ``weights``:
    None (random) or the path of a weights file.
    """
    import keras
    from keras import layers

    if name not in _IMAGENET:
        raise ValueError(f"name={name!r} is not allowed: it must be one of {IMAGENET_BASES}")
    size = _IMAGENET[name]["size"]
    inputs = keras.Input(image_shape)
    x = layers.Resizing(size, size, name="resize")(inputs)
    if image_shape[-1] == 1:
        x = layers.Concatenate(name="grey_to_rgb")([x, x, x])
    x = layers.Rescaling(2.0, offset=-1.0, name="to_minus1_1")(x)
    app = keras.applications.MobileNetV2(
        input_shape=(size, size, 3),
        include_top=False,
        weights=None if weights is None else str(weights),
        pooling="avg",
    )
    return keras.Model(inputs, app(x), name="base")


def imagenet_base(name: str, image_shape: tuple, *, download: bool = False, cache_dir=None):
    """An ImageNet-pretrained base, or ``None`` with one printed line saying why not.

    The weights come from the Keras cache (``keras_cache_dir()/models``). Only with
    ``download=True`` are they fetched when missing; offline, that fails, and the line
    says so. Either way the caller falls back to a base of its own.
    """
    import keras

    if name not in _IMAGENET:
        raise ValueError(f"base={name!r} is not allowed: it must be one of {IMAGENET_BASES}")
    path = imagenet_weights_file(name, cache_dir)
    fallback = "using the base pre-trained in this notebook instead"
    if not path.is_file():
        if not download:
            print(
                f"coursekit: ImageNet weights for {name} are not in the Keras cache ({path}) "
                f"and download=False -- {fallback} (download=True fetches them where there is "
                "a network)"
            )
            return None
        spec = _IMAGENET[name]
        try:
            path = Path(
                keras.utils.get_file(
                    spec["file"],
                    spec["origin"] + spec["file"],
                    cache_subdir="models",
                    cache_dir=str(cache_dir or keras_cache_dir()),
                )
            )
        except Exception as err:  # no network, a proxy, a moved file: all mean "fall back"
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            print(
                f"coursekit: could not download ImageNet weights for {name} ({reason}) -- {fallback}"
            )
            return None
    return imagenet_model(name, image_shape, weights=path)


__all__ = [
    "IMAGENET_BASES",
    "NetworkBlocked",
    "imagenet_base",
    "imagenet_model",
    "imagenet_weights_file",
    "import_tensorflow",
    "keras_cache_dir",
    "load_cached",
    "model_key",
    "models_dir",
    "network_monitor",
    "progress_callback",
    "save_model",
]
