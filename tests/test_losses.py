"""era_zoo.losses against independent NumPy statements of the papers'
formulas (float64, explicit loops) and hand-computed tiny cases."""
import numpy as np
import pytest
import tensorflow as tf

from era_zoo.losses import era_contrastive, multimodal_contrastive, nt_xent


def _unit(x):
    x = np.asarray(x, np.float64)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def np_nt_xent(a, b, tau):
    """Paper B: 2N rows, cosine / tau, diagonal dropped, partner positive."""
    z = _unit(np.concatenate([a, b]))
    n2 = len(z)
    total = 0.0
    for i in range(n2):
        partner = (i + n2 // 2) % n2
        den = sum(np.exp(z[i] @ z[j] / tau) for j in range(n2) if j != i)
        total += -np.log(np.exp(z[i] @ z[partner] / tau) / den)
    return total / n2


def np_supcon(z, labels, tau):
    """Khosla et al. L_out; anchors without positives are skipped."""
    z = _unit(z)
    losses = []
    for i in range(len(z)):
        pos = [p for p in range(len(z)) if p != i and labels[p] == labels[i]]
        if not pos:
            continue
        den = sum(np.exp(z[i] @ z[a] / tau) for a in range(len(z)) if a != i)
        losses.append(-np.mean([np.log(np.exp(z[i] @ z[p] / tau) / den) for p in pos]))
    return np.mean(losses) if losses else 0.0


def np_mmc(t, s, artists, tau):
    """Paper A's MMC: text i vs the audio of its artist's songs."""
    t, s = _unit(t), _unit(s)
    losses = []
    for i in range(len(t)):
        if artists[i] < 0:
            continue
        den = sum(np.exp(t[i] @ s[k] / tau) for k in range(len(s)))
        pos = [p for p in range(len(s)) if artists[p] == artists[i]]
        losses.append(-np.mean([np.log(np.exp(t[i] @ s[p] / tau) / den) for p in pos]))
    return np.mean(losses)


@pytest.mark.parametrize("tau", [0.1, 0.5])
def test_nt_xent_matches_numpy(tau):
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(6, 5)), rng.normal(size=(6, 5))
    got = float(nt_xent(a.astype(np.float32), b.astype(np.float32), tau))
    assert got == pytest.approx(np_nt_xent(a, b, tau), abs=1e-5)


def test_nt_xent_hand_computed():
    # tau = 1; unit rows a1 = b1 = (1, 0), a2 = b2 = (0, 1) (a1 given as (2, 0):
    # only directions count). Row a1: partner b1 scores 1, the other rows
    # (a2, b2) score 0, so its loss is -1 + log(e + 1 + 1); every row is alike:
    # log(e + 2) - 1 = 0.5514447.
    a = np.array([[2.0, 0.0], [0.0, 1.0]], np.float32)
    b = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    assert float(nt_xent(a, b, 1.0)) == pytest.approx(0.5514447139, abs=1e-6)


def test_nt_xent_includes_same_modality_negatives():
    # Making a2 identical to a1 raises row a1's loss (a2 is a negative of a1).
    a = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    b = a.copy()
    a_close = np.array([[1.0, 0.0], [1.0, 0.1]], np.float32)
    assert float(nt_xent(a_close, b, 1.0)) > float(nt_xent(a, b, 1.0))


@pytest.mark.parametrize("tau", [0.1, 0.7])
def test_era_contrastive_matches_numpy(tau):
    rng = np.random.default_rng(2)
    z = rng.normal(size=(10, 4))
    labels = np.array([0, 1, 0, 2, 1, 1, 3, 0, 2, 4])    # classes 3 and 4 lack positives
    got = float(era_contrastive(z.astype(np.float32), labels, tau))
    assert got == pytest.approx(np_supcon(z, labels, tau), abs=1e-5)


def test_era_contrastive_hand_computed():
    # tau = 1; z1 = z2 = (1, 0) class 0, z3 = (0, 1) class 1. Anchor 1: its
    # positive z2 scores 1, the softmax runs over z2 (1) and z3 (0):
    # -(1 - log(e + 1)) = 0.3132617; anchor 2 the same; anchor 3 has no
    # positive and is left out. Mean: 0.3132617.
    z = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], np.float32)
    assert float(era_contrastive(z, [0, 0, 1], 1.0)) == pytest.approx(0.3132616875, abs=1e-6)


def test_era_contrastive_without_positives_is_zero():
    z = np.eye(3, dtype=np.float32)
    assert float(era_contrastive(z, [0, 1, 2], 0.1)) == 0.0


@pytest.mark.parametrize("tau", [0.1, 0.3])
def test_mmc_matches_numpy(tau):
    rng = np.random.default_rng(3)
    t, s = rng.normal(size=(9, 6)), rng.normal(size=(9, 6))
    artists = np.array([4, 1, 4, 7, 1, 4, -1, 9, 7])
    got = float(multimodal_contrastive(t.astype(np.float32), s.astype(np.float32),
                                       artists, tau))
    assert got == pytest.approx(np_mmc(t, s, artists, tau), abs=1e-5)


def test_mmc_hand_computed():
    # tau = 1. Songs 1 and 2 by artist 7 (text (1, 0)), song 3 by artist 9
    # (text (0, 1)); audio s1 = (1, 0), s2 = s3 = (0, 1).
    # Text 1 scores 1, 0, 0 against s1..s3; positives s1, s2:
    #   -(1/2)[(1 - log(e + 2)) + (0 - log(e + 2))] = log(e + 2) - 0.5 = 1.0514447
    # Text 2 is the same artist's text: 1.0514447 again.
    # Text 3 scores 0, 1, 1; positive s3 only: log(1 + 2e) - 1 = 0.8619948.
    # Mean over the three anchors: 0.9882947.
    t = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], np.float32)
    s = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]], np.float32)
    got = float(multimodal_contrastive(t, s, [7, 7, 9], 1.0))
    assert got == pytest.approx(0.9882947440, abs=1e-6)


def test_mmc_unknown_artists_are_only_negatives():
    # Song 3 has no artist text (-1): dropping it as an anchor leaves songs 1-2,
    # but its audio still enters their softmax.
    t = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]], np.float32)
    s = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]], np.float32)
    got = float(multimodal_contrastive(t, s, [1, 2, -1], 1.0))
    e = np.e
    # Anchor 1: scores 1, 0, 1 -> log(2e + 1) - 1; anchor 2: scores 0, 1, 0 -> log(e + 2) - 1.
    assert got == pytest.approx(((np.log(2 * e + 1) - 1) + (np.log(e + 2) - 1)) / 2, abs=1e-6)


@pytest.mark.parametrize("loss", ["nt_xent", "era_contrastive", "mmc"])
def test_stable_at_low_temperature_in_float16(loss):
    rng = np.random.default_rng(4)
    a = tf.Variable(rng.normal(size=(16, 8)).astype(np.float16))
    b = tf.constant(rng.normal(size=(16, 8)).astype(np.float16))
    labels = rng.integers(0, 4, 16)
    fn = {"nt_xent": lambda: nt_xent(a, b, 0.01),
          "era_contrastive": lambda: era_contrastive(a, labels, 0.01),
          "mmc": lambda: multimodal_contrastive(a, b, labels, 0.01)}[loss]
    with tf.GradientTape() as tape:
        value = fn()
    grad = tape.gradient(value, a)
    assert value.dtype == tf.float32
    assert np.isfinite(float(value)) and np.isfinite(grad.numpy()).all()
    # float32 arithmetic on the float16 rows: the float64 statement agrees.
    a64, b64 = a.numpy().astype(np.float64), b.numpy().astype(np.float64)
    expected = {"nt_xent": lambda: np_nt_xent(a64, b64, 0.01),
                "era_contrastive": lambda: np_supcon(a64, labels, 0.01),
                "mmc": lambda: np_mmc(a64, b64, labels, 0.01)}[loss]()
    assert float(value) == pytest.approx(expected, rel=1e-4)
