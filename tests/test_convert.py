"""Reference PyTorch audio encoder -> era_zoo AudioEncoder conversion."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from era_zoo.convert import (assign_converted, build_torch_reference,  # noqa: E402
                             convert_state_dict, load_reference_weights)
from era_zoo.errors import ConfigError, DataError  # noqa: E402
from era_zoo.layers.audio_encoder import AudioEncoder  # noqa: E402

# Small enough for a fast test, shaped like the paper: seven blocks, two
# time-only pools, a trunk more than one band high and wide (so the C,H,W ->
# H,W,C row permutation of the first dense layer is exercised).
CFG = dict(n_mels=32, n_frames=48, channels=(4, 4, 8, 8, 8, 8, 16),
           pools=((2, 2), (1, 2), (2, 1), (2, 2), (1, 2), (1, 1), (1, 1)),
           hidden_dim=32, output_dim=16)


def _randomised_reference(seed=0):
    torch.manual_seed(seed)
    model = build_torch_reference(**CFG)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.3, 0.3)
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
            if isinstance(module, torch.nn.LayerNorm):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.3, 0.3)
    return model


def _hwc(enc, z_chw):
    """Reference trunk (C,H,W flatten) in era_zoo's H,W,C order."""
    h, w, c = enc.trunk_shape
    return z_chw.numpy().reshape(-1, c, h, w).transpose(0, 2, 3, 1).reshape(-1, h * w * c)


def _converted(model):
    enc = AudioEncoder(**CFG)
    enc.build()
    assign_converted(enc, convert_state_dict(model.state_dict(), trunk_shape=enc.trunk_shape))
    return enc


def test_paper_config_state_dict_names_and_sizes():
    ref = build_torch_reference()
    n_trainable = sum(p.numel() for p in ref.parameters())
    assert n_trainable == 3_989_762
    weights = convert_state_dict(ref.state_dict())
    assert weights["fc1"][0].shape == (1024, 512)
    assert weights["conv0"][0].shape == (3, 3, 1, 128)


def test_eval_outputs_match_reference():
    model = _randomised_reference().eval()
    enc = _converted(model)
    mel = np.random.default_rng(1).normal(size=(3, 32, 48)).astype("float32")
    with torch.no_grad():
        z_ref, p_ref = model(torch.from_numpy(mel)[:, None])
    z = np.asarray(enc.trunk(mel, training=False))
    p = np.asarray(enc(mel, training=False))
    assert z.shape == (3, enc.trunk_dim) == tuple(z_ref.shape)
    np.testing.assert_allclose(z, _hwc(enc, z_ref), atol=1e-4, rtol=0)
    np.testing.assert_allclose(p, p_ref.numpy(), atol=1e-4, rtol=0)


def test_training_trunk_and_moving_mean_match_reference():
    # Training-mode trunk (batch statistics, no dropout before the trunk).
    model = _randomised_reference(seed=2).train()
    enc = _converted(model)
    mel = np.random.default_rng(3).normal(2.0, 3.0, size=(4, 32, 48)).astype("float32")
    with torch.no_grad():
        z_ref, _ = model(torch.from_numpy(mel)[:, None])
    z = np.asarray(enc.trunk(mel, training=True))
    np.testing.assert_allclose(z, _hwc(enc, z_ref), atol=1e-4, rtol=0)
    # Moving means follow the same exponential average in both frameworks.
    for i in (0, 1, 6):
        np.testing.assert_allclose(
            np.asarray(enc.weight_layers()[f"bn{i}"].moving_mean),
            model.audio_encoder[i + 1].bn.running_mean.numpy(), atol=1e-5)


def test_missing_and_unexpected_keys_are_named():
    sd = build_torch_reference().state_dict()
    missing = {k: v for k, v in sd.items() if k != "audio_encoder.3.bn.running_var"}
    with pytest.raises(ConfigError, match=r"missing keys: audio_encoder\.3\.bn\.running_var"):
        convert_state_dict(missing)
    extra = dict(sd, **{"fc_audio.9.weight": torch.zeros(1)})
    with pytest.raises(ConfigError, match=r"unexpected keys: fc_audio\.9\.weight"):
        convert_state_dict(extra)


def test_load_reference_file_with_dataparallel_prefix(tmp_path):
    model = _randomised_reference(seed=4).eval()
    path = tmp_path / "audio_encoder_epoch_best.pt"
    torch.save({"module." + k: v for k, v in model.state_dict().items()}, path)
    enc = load_reference_weights(AudioEncoder(**CFG), path)
    mel = np.random.default_rng(5).normal(size=(2, 32, 48)).astype("float32")
    with torch.no_grad():
        _, p_ref = model(torch.from_numpy(mel)[:, None])
    np.testing.assert_allclose(np.asarray(enc(mel)), p_ref.numpy(), atol=1e-4, rtol=0)


def test_load_reference_rejects_bad_files(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_reference_weights(AudioEncoder(**CFG), tmp_path / "absent.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(DataError, match="junk.pt"):
        load_reference_weights(AudioEncoder(**CFG), junk)
    wrong = tmp_path / "wrong.pt"
    torch.save({"encoder.weight": torch.zeros(2)}, wrong)
    with pytest.raises(DataError, match="missing keys"):
        load_reference_weights(AudioEncoder(**CFG), wrong)
    # The paper-size reference does not fit the small configuration.
    paper = tmp_path / "paper.pt"
    torch.save(build_torch_reference().state_dict(), paper)
    with pytest.raises(DataError, match="paper.pt: trunk_shape"):
        load_reference_weights(AudioEncoder(**CFG), paper)
