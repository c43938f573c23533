"""Paper B's reference audio encoder in PyTorch, and its weights -> era_zoo.

The reference (andrebola/contrastive-mir-learning, ``models.py``) saves
``audio_encoder.state_dict()`` as ``audio_encoder_epoch_{N}.pt``. Its keys:

- ``audio_encoder.0.*``: the input ``BatchNorm2d(1)``;
- ``audio_encoder.{1..7}.conv.{weight,bias}`` and ``audio_encoder.{1..7}.bn.*``:
  the seven Conv3x3-BN-ReLU-MaxPool blocks;
- ``fc_audio.0.*`` (Linear 1024->512), ``fc_audio.1.*`` (BatchNorm1d),
  ``fc_audio.4.*`` (Linear 512->128), ``fc_audio.5.*`` (LayerNorm).

A ``module.`` prefix (``nn.DataParallel`` checkpoints) is accepted. Every
BatchNorm carries ``weight, bias, running_mean, running_var`` and, since
PyTorch 0.4, ``num_batches_tracked`` (ignored: Keras has no counterpart).

Layouts: PyTorch convolutions are OIHW, Keras HWIO; PyTorch's input is
(batch, 1, bands, frames), era_zoo's (batch, bands, frames), so H is the band
axis in both. PyTorch flattens the trunk as C,H,W and Keras as H,W,C: the rows
of the first dense kernel are permuted accordingly.

torch is imported lazily: only conversion and the benchmark need it.
"""
from pathlib import Path

import numpy as np

from era_zoo.errors import ConfigError, DataError
from era_zoo.layers.audio_encoder import PAPER_B_CHANNELS, PAPER_B_POOLS

N_BLOCKS = len(PAPER_B_CHANNELS)
_BN_STATS = ("weight", "bias", "running_mean", "running_var")
_BN_OPTIONAL = ("num_batches_tracked",)


def _torch():
    try:
        import torch
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("converting reference weights needs PyTorch: "
                          "pip install torch") from e
    return torch


def build_torch_reference(n_mels=48, n_frames=256, channels=PAPER_B_CHANNELS,
                          pools=PAPER_B_POOLS, hidden_dim=512, output_dim=128, dropout=0.5):
    """The reference ``AudioEncoder`` as a ``torch.nn.Module``.

    ``forward(x)`` takes (batch, 1, bands, frames) and returns ``(trunk,
    projection)`` like the reference. Module names and nesting reproduce the
    reference's state-dict keys, so ``load_state_dict`` accepts its files.
    """
    torch = _torch()
    nn = torch.nn

    class ConvBlock(nn.Module):
        def __init__(self, cin, cout, pool):
            super().__init__()
            self.conv = nn.Conv2d(cin, cout, 3, padding=1)
            self.bn = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU()
            self.mp = nn.MaxPool2d(tuple(pool))

        def forward(self, x):
            return self.mp(self.relu(self.bn(self.conv(x))))

    class ReferenceAudioEncoder(nn.Module):
        def __init__(self):
            super().__init__()
            blocks, cin, h, w = [nn.BatchNorm2d(1)], 1, n_mels, n_frames
            for cout, pool in zip(channels, pools):
                blocks.append(ConvBlock(cin, cout, pool))
                cin, h, w = cout, h // pool[0], w // pool[1]
            blocks.append(nn.Flatten())
            self.audio_encoder = nn.Sequential(*blocks)
            self.fc_audio = nn.Sequential(
                nn.Linear(cin * h * w, hidden_dim), nn.BatchNorm1d(hidden_dim),
                nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden_dim, output_dim),
                nn.LayerNorm(output_dim, eps=1e-6))

        def forward(self, x):
            z = self.audio_encoder(x)
            return z, self.fc_audio(z)

    return ReferenceAudioEncoder()


def _expected_keys(n_blocks=N_BLOCKS):
    keys = {f"audio_encoder.0.{s}" for s in _BN_STATS}
    for i in range(1, n_blocks + 1):
        keys |= {f"audio_encoder.{i}.conv.weight", f"audio_encoder.{i}.conv.bias"}
        keys |= {f"audio_encoder.{i}.bn.{s}" for s in _BN_STATS}
    keys |= {"fc_audio.0.weight", "fc_audio.0.bias", "fc_audio.4.weight",
             "fc_audio.4.bias", "fc_audio.5.weight", "fc_audio.5.bias"}
    keys |= {f"fc_audio.1.{s}" for s in _BN_STATS}
    return keys


def _is_optional(key):
    return key.rsplit(".", 1)[-1] in _BN_OPTIONAL


def _as_numpy(value):
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float32)


def convert_state_dict(state_dict, trunk_shape=None, n_blocks=N_BLOCKS):
    """Reference state dict -> ``{keras_sublayer_name: [weights...]}``.

    ``trunk_shape`` is (bands, frames, channels) after the last pool
    (``AudioEncoder.trunk_shape``). Without it the trunk is taken to be one
    band high, which is paper B's 48x256 case (512 x 1 x 2); pass it for any
    other configuration.

    Raises ``ConfigError`` listing every missing or unexpected key.
    """
    sd = {k[len("module."):] if k.startswith("module.") else k: v
          for k, v in state_dict.items()}
    expected = _expected_keys(n_blocks)
    missing = sorted(expected - sd.keys())
    unexpected = sorted(k for k in sd.keys() - expected if not _is_optional(k))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append("missing keys: " + ", ".join(missing))
        if unexpected:
            parts.append("unexpected keys: " + ", ".join(unexpected))
        raise ConfigError("state_dict", "; ".join(parts),
                          "expected the reference AudioEncoder's state_dict "
                          "(audio_encoder.N.* and fc_audio.N.* keys)")
    t = {k: _as_numpy(v) for k, v in sd.items() if not _is_optional(k)}

    def bn(prefix):
        return [t[f"{prefix}.weight"], t[f"{prefix}.bias"],
                t[f"{prefix}.running_mean"], t[f"{prefix}.running_var"]]

    weights = {"input_bn": bn("audio_encoder.0")}
    for i in range(n_blocks):
        p = f"audio_encoder.{i + 1}"
        weights[f"conv{i}"] = [t[f"{p}.conv.weight"].transpose(2, 3, 1, 0),
                               t[f"{p}.conv.bias"]]
        weights[f"bn{i}"] = bn(f"{p}.bn")

    fc1 = t["fc_audio.0.weight"]  # (hidden, C*H*W)
    channels = t[f"audio_encoder.{n_blocks}.conv.weight"].shape[0]
    if trunk_shape is None:
        h, w = 1, fc1.shape[1] // channels  # paper B: 512 x 1 x 2
    else:
        h, w, c = trunk_shape
        if c != channels or h * w * c != fc1.shape[1]:
            raise ConfigError("trunk_shape", f"{tuple(trunk_shape)} does not match the "
                              f"state dict ({channels} channels, fan-in {fc1.shape[1]})")
    # Keras row index (h, w, c) <- PyTorch column index (c, h, w).
    fc1 = fc1.reshape(fc1.shape[0], channels, h, w).transpose(2, 3, 1, 0)
    weights["fc1"] = [fc1.reshape(h * w * channels, -1), t["fc_audio.0.bias"]]
    weights["fc_bn"] = bn("fc_audio.1")
    weights["fc2"] = [t["fc_audio.4.weight"].T, t["fc_audio.4.bias"]]
    weights["norm"] = [t["fc_audio.5.weight"], t["fc_audio.5.bias"]]
    return weights


def assign_converted(encoder, weights):
    """Set an ``AudioEncoder``'s weights from ``convert_state_dict`` output."""
    if not encoder.built:
        encoder.build()
    layers = encoder.weight_layers()
    for name, values in weights.items():
        layer = layers[name]
        shapes = [tuple(v.shape) for v in layer.get_weights()]
        got = [tuple(v.shape) for v in values]
        if shapes != got:
            raise ConfigError(f"state_dict[{name}]",
                              f"shapes {got} do not fit the encoder's {shapes}",
                              "build the AudioEncoder with the reference's configuration")
        layer.set_weights(values)


def load_reference_weights(encoder, path):
    """Load a reference ``audio_encoder*.pt`` file into an ``AudioEncoder``.

    The file is read with ``torch.load(weights_only=True)``: tensors only, no
    pickled code runs.
    """
    torch = _torch()
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "no such file", "give the path of audio_encoder_epoch_N.pt")
    try:
        state_dict = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise DataError(path, f"not a readable PyTorch state dict ({e})",
                        "give the reference's audio_encoder_epoch_N.pt") from e
    if not isinstance(state_dict, dict):
        raise DataError(path, f"holds a {type(state_dict).__name__}, not a state dict")
    if not encoder.built:
        encoder.build()
    try:
        weights = convert_state_dict(state_dict, trunk_shape=encoder.trunk_shape,
                                     n_blocks=len(encoder.channels))
    except ConfigError as e:
        raise DataError(path, str(e)) from e
    assign_converted(encoder, weights)
    return encoder
