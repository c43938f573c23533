"""The zoo's contrastive objectives, each stated once here.

All three take embeddings of any float dtype, L2-normalise them (so the
scores are cosine similarities), compute in float32 and use log-sum-exp, so
they stay finite at low temperature and with float16 inputs (the reference
of paper B exponentiates directly and reports NaNs there). They return a
float32 scalar.

Across replicas: the functions see whatever rows they are given. A model
that trains on several replicas passes tensors already gathered from all
replicas (``ReplicaContext.all_gather``), so every replica computes the loss
of the global batch; see era_zoo.models.base.
"""
from keras import ops

from .layers.heads import l2_normalize

# Stands in for -inf where a score must be left out of a softmax; finite so
# that 0 * masked stays 0 and gradients stay finite.
_MASKED = -1e9


def _unit_rows(x):
    return l2_normalize(ops.cast(x, "float32"))


def nt_xent(a, b, temperature=0.1):
    """NT-Xent of paper B (SimCLR) between paired rows ``a[i]``, ``b[i]``.

    With z = [a; b] (2N unit rows) and s_ij = z_i . z_j / temperature::

        loss = 1/(2N) sum_i [ -s_i,p(i) + log sum_{j != i} exp(s_ij) ]

    where p(i) is the partner row (i + N mod 2N). Every other row, of either
    modality, is a negative; only the diagonal is left out.
    """
    z = ops.concatenate([_unit_rows(a), _unit_rows(b)], axis=0)
    two_n = ops.shape(z)[0]
    n = two_n // 2
    sim = ops.matmul(z, ops.transpose(z)) / temperature
    eye = ops.eye(two_n, dtype="bool")
    log_norm = ops.logsumexp(ops.where(eye, _MASKED, sim), axis=1)
    partner = ops.concatenate([ops.arange(n) + n, ops.arange(n)])
    positive = ops.take_along_axis(sim, partner[:, None], axis=1)[:, 0]
    return ops.mean(log_norm - positive)


def era_contrastive(z, labels, temperature=0.1):
    """Paper A's era contrastive loss: the supervised contrastive loss of
    Khosla et al. (2020), L_out form, positives = same era class.

    With unit rows z_i, s_ij = z_i . z_j / temperature, P(i) = {p != i :
    labels_p = labels_i} and A(i) = {a != i}::

        L_i  = -1/|P(i)| sum_{p in P(i)} [ s_ip - log sum_{a in A(i)} exp(s_ia) ]
        loss = mean of L_i over the anchors with |P(i)| > 0

    Anchors whose class has no other member in the batch have no positive
    and are left out (0 when no anchor has one). Khosla's extra factor
    temperature / base_temperature is not applied (it only rescales).
    """
    z = _unit_rows(z)
    labels = ops.reshape(ops.cast(labels, "int32"), (-1,))
    sim = ops.matmul(z, ops.transpose(z)) / temperature
    n = ops.shape(z)[0]
    eye = ops.eye(n, dtype="bool")
    log_prob = sim - ops.logsumexp(ops.where(eye, _MASKED, sim), axis=1, keepdims=True)
    positive = ops.logical_and(ops.equal(labels[:, None], labels[None, :]),
                               ops.logical_not(eye))
    return _mean_over_positives(log_prob, ops.cast(positive, "float32"))


def multimodal_contrastive(text_emb, audio_emb, artist_ids, temperature=0.1):
    """Paper A's multimodal contrastive (MMC) loss: artist text against the
    audio of that artist's songs.

    Row i is song i: ``text_emb[i]`` embeds its artist's text, ``audio_emb[i]``
    its audio, ``artist_ids[i]`` its artist. Each row's text is an anchor;
    with s_ij = t_i . a_j / temperature (unit rows) and P(i) = {j :
    artist_j = artist_i} (the song itself and every other song of the same
    artist in the batch)::

        L_i  = -1/|P(i)| sum_{p in P(i)} [ s_ip - log sum_{k} exp(s_ik) ]
        loss = mean of L_i over anchors i with artist_ids[i] >= 0

    The softmax runs over every song of the batch: other artists' songs are
    the negatives. An artist with m songs in the batch contributes m anchors
    (its text once per song), so artists weigh by their songs, as in the
    paper's sum over artists and their songs. A negative ``artist_ids[i]``
    marks a song without artist text: it is no anchor and nobody's positive,
    but its audio still serves as a negative.
    """
    t, a = _unit_rows(text_emb), _unit_rows(audio_emb)
    artist_ids = ops.reshape(ops.cast(artist_ids, "int32"), (-1,))
    sim = ops.matmul(t, ops.transpose(a)) / temperature
    log_prob = sim - ops.logsumexp(sim, axis=1, keepdims=True)
    known = ops.greater_equal(artist_ids, 0)
    positive = ops.logical_and(ops.equal(artist_ids[:, None], artist_ids[None, :]),
                               known[:, None])
    return _mean_over_positives(log_prob, ops.cast(positive, "float32"))


def _mean_over_positives(log_prob, positive):
    """Mean over anchors with at least one positive of -(mean log_prob over
    the anchor's positives)."""
    n_pos = ops.sum(positive, axis=1)
    has_pos = ops.cast(n_pos > 0, "float32")
    per_anchor = -ops.sum(positive * log_prob, axis=1) / ops.maximum(n_pos, 1.0)
    return ops.sum(per_anchor * has_pos) / ops.maximum(ops.sum(has_pos), 1.0)
