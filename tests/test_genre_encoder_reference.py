"""GenreEncoder against a PyTorch statement of the reference's
TagSelfAttentionEncoder (paper B's code), weights copied, eval mode."""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from era_zoo.layers import GenreEncoder  # noqa: E402

VOCAB, DIM, HEADS, HEAD_DIM, SLOTS = 219, 128, 4, 128, 10


class TagSelfAttentionEncoder(nn.Module):
    """The reference layer as DESIGN.md states it: embedding (vocab + 1,
    padding id 0), 4 heads x 128-d with Q/K/V 128 -> 512 without bias, scores
    / sqrt(128), padded keys masked, attention dropout 0.1, Dense 512 -> 128
    without bias, dropout 0.1, sum over all positions, LayerNorm."""

    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(VOCAB + 1, DIM, padding_idx=0)
        self.query = nn.Linear(DIM, HEADS * HEAD_DIM, bias=False)
        self.key = nn.Linear(DIM, HEADS * HEAD_DIM, bias=False)
        self.value = nn.Linear(DIM, HEADS * HEAD_DIM, bias=False)
        self.attention_dropout = nn.Dropout(0.1)
        self.out = nn.Linear(HEADS * HEAD_DIM, DIM, bias=False)
        self.dropout = nn.Dropout(0.1)
        self.norm = nn.LayerNorm(DIM, eps=1e-6)

    def forward(self, ids, sum_over="all"):
        x = self.embedding(ids)
        batch, length, _ = x.shape

        def heads(linear):
            return linear(x).view(batch, length, HEADS, HEAD_DIM).transpose(1, 2)

        q, k, v = heads(self.query), heads(self.key), heads(self.value)
        scores = q @ k.transpose(-2, -1) / math.sqrt(HEAD_DIM)
        keys = (ids != 0)[:, None, None, :]
        scores = scores.masked_fill(~keys, float("-inf"))
        weights = self.attention_dropout(torch.softmax(scores, dim=-1))
        attended = (weights @ v).transpose(1, 2).reshape(batch, length, HEADS * HEAD_DIM)
        y = self.dropout(self.out(attended))
        if sum_over == "valid":
            y = y * (ids != 0)[:, :, None]
        return self.norm(y.sum(dim=1))


def copy_weights(ours, ref):
    """Keras MultiHeadAttention kernels (dim, heads, head_dim) and (heads,
    head_dim, out) as PyTorch Linear weights (out, in)."""
    attention = ours.attention
    with torch.no_grad():
        ref.embedding.weight.copy_(torch.from_numpy(np.asarray(ours.embedding.embeddings)))
        for name, dense in (("query", attention.query_dense), ("key", attention.key_dense),
                            ("value", attention.value_dense)):
            kernel = np.asarray(dense.kernel).reshape(DIM, HEADS * HEAD_DIM)
            getattr(ref, name).weight.copy_(torch.from_numpy(kernel.T.copy()))
        out = np.asarray(attention.output_dense.kernel).reshape(HEADS * HEAD_DIM, DIM)
        ref.out.weight.copy_(torch.from_numpy(out.T.copy()))
        ref.norm.weight.copy_(torch.from_numpy(np.asarray(ours.norm.gamma)))
        ref.norm.bias.copy_(torch.from_numpy(np.asarray(ours.norm.beta)))


@pytest.fixture(scope="module")
def pair():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    w2v = rng.normal(0, 0.5, size=(VOCAB, DIM)).astype(np.float32)
    ours = GenreEncoder(VOCAB, embedding_matrix=w2v)
    ours.build()
    # Non-trivial LayerNorm parameters, so that they are checked too.
    ours.norm.gamma.assign(rng.uniform(0.5, 1.5, DIM).astype(np.float32))
    ours.norm.beta.assign(rng.normal(0, 0.1, DIM).astype(np.float32))
    ref = TagSelfAttentionEncoder().eval()
    copy_weights(ours, ref)
    return ours, ref


def genre_batch(seed=1):
    """Rows with 1, 2, ..., 10 distinct genres, padded with 0 to 10 slots."""
    rng = np.random.default_rng(seed)
    ids = np.zeros((SLOTS, SLOTS), np.int64)
    for n in range(1, SLOTS + 1):
        ids[n - 1, :n] = rng.choice(np.arange(1, VOCAB + 1), size=n, replace=False)
    return ids


def test_reference_sum_over_all_positions(pair):
    ours, ref = pair
    ids = genre_batch()
    with torch.no_grad():
        expected = ref(torch.from_numpy(ids)).numpy()
    got = np.asarray(ours(ids.astype(np.int32), training=False))
    diff = np.abs(got - expected).max(axis=1)
    assert diff.max() <= 1e-4, diff


def test_masked_sum_is_the_option(pair):
    ours, ref = pair
    masked = GenreEncoder(VOCAB, sum_over="valid")
    masked.build()
    masked.set_weights(ours.get_weights())
    ids = genre_batch(seed=2)
    with torch.no_grad():
        expected = ref(torch.from_numpy(ids), sum_over="valid").numpy()
        reference = ref(torch.from_numpy(ids)).numpy()
    got = np.asarray(masked(ids.astype(np.int32), training=False))
    assert np.abs(got - expected).max() <= 1e-4
    # The two sums differ for 2 to 9 genres. With one genre every padded query
    # attends to it alone, so the full sum is 10 x the masked one, the same
    # after LayerNorm; with ten, nothing is padded.
    apart = np.abs(got - reference).max(axis=1)
    assert apart[1:-1].min() > 1e-3, apart
    assert apart[0] <= 1e-4 and apart[-1] <= 1e-4, apart
