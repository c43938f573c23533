"""Training-step speed: era_zoo's ContrastiveA2P against the PyTorch reference.

One process times both sides, interleaved in rounds (era_zoo, PyTorch,
era_zoo, ...), so machine load shared with other work hits both alike; the
figure of each side is its median step. The step of both: batch 128 of 48x256
log-mels and 301-d CF vectors, the paper B audio encoder and the CF encoder
(Dense 301->128, ReLU, Dropout 0.3, Dense 128->128, LayerNorm), NT-Xent
(tau 0.1) between the two 128-d embeddings, Adam lr 1e-4 with weight decay
1e-4 (PyTorch: L2 as in the reference trainer; Keras: decoupled), one
optimizer update.

- era_zoo: ``ContrastiveA2P.train_on_batch`` (the model's own ``train_step``,
  compiled by Keras as a ``tf.function``, no XLA).
- PyTorch: the reference architecture (``era_zoo.convert.build_torch_reference``)
  in its own NCHW layout, eager, as the reference trainer runs it.

Inference: 30 s clips embedded per second, each clip's mel cut into
non-overlapping 256-frame chunks (7 per clip at 16 kHz / hop 256), encoder
projection in inference mode, mean over chunks; mel computation excluded.

``--write`` replaces the "## train_step" section of benchmarks/RESULTS.md.
"""
import argparse
import datetime
import os
import platform
import statistics
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# TF's oneDNN kernels (pooling, batch norm, NCHW filter gradients) are off
# unless asked for on this TF build; they must be requested before TF loads.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

import numpy as np  # noqa: E402

from results import RESULTS, write_section  # noqa: E402

CHUNKS_PER_30S = (30 * 16000 // 256) // 256  # 1875 frames -> 7 chunks


def configure_threads(cores, inter_op):
    import tensorflow as tf
    import torch

    tf.config.threading.set_intra_op_parallelism_threads(cores)
    tf.config.threading.set_inter_op_parallelism_threads(inter_op)
    torch.set_num_threads(cores)


def make_batch(batch, n_mels, n_frames, cf_dim, seed=0):
    rng = np.random.default_rng(seed)
    return {"mel": rng.normal(size=(batch, n_mels, n_frames)).astype(np.float32),
            "cf": rng.normal(size=(batch, cf_dim)).astype(np.float32)}


def plain_trunk(encoder, mel, training=None):
    """The textbook layer-by-layer statement of AudioEncoder.trunk."""
    from keras import ops

    x = encoder.input_bn(ops.expand_dims(mel, -1), training=training)
    for conv, bn, pool in encoder.blocks:
        x = pool(ops.relu(bn(conv(x), training=training)))
    return ops.reshape(x, (-1, encoder.trunk_dim))


class EraZooSide:
    name = "era_zoo"

    def __init__(self, batch, plain=False):
        import types

        import tensorflow as tf

        from era_zoo.models import ContrastiveA2P
        from era_zoo.training.optimizers import AdamL2

        self.model = ContrastiveA2P()
        if plain:
            self.name = "Keras plain"
            self.model.audio_encoder.trunk = types.MethodType(plain_trunk,
                                                              self.model.audio_encoder)
        # The recipes' optimizer: PyTorch Adam's coupled L2 weight decay, so
        # both sides of the ratio do the same arithmetic.
        self.model.compile(optimizer=AdamL2(1e-4, l2=1e-4), jit_compile=False)
        # Tensors placed once: no per-step conversion from NumPy.
        self.batch = {k: tf.constant(v) for k, v in batch.items()}
        encoder = self.model.audio_encoder
        self.embed_fn = tf.function(
            lambda chunks: encoder(chunks, training=False), reduce_retracing=True)

    def step(self):
        logs = self.model.train_on_batch(self.batch, return_dict=True)
        return float(logs["loss"])

    def embed(self, chunks):
        return np.asarray(self.embed_fn(chunks))


class TorchSide:
    """The reference step in PyTorch on ``device`` ("cpu" or "cuda"); the
    batch is placed there once."""

    name = "PyTorch"

    def __init__(self, batch, temperature=0.1, device="cpu"):
        import torch

        from era_zoo.convert import build_torch_reference

        self.torch = torch
        self.device = torch.device(device)
        nn = torch.nn
        self.audio = build_torch_reference().to(self.device)
        self.cf = nn.Sequential(nn.Linear(batch["cf"].shape[1], 128), nn.ReLU(),
                                nn.Dropout(0.3), nn.Linear(128, 128),
                                nn.LayerNorm(128, eps=1e-6)).to(self.device)
        params = list(self.audio.parameters()) + list(self.cf.parameters())
        self.opt = torch.optim.Adam(params, lr=1e-4, weight_decay=1e-4)
        self.mel = torch.from_numpy(batch["mel"])[:, None].to(self.device)
        self.cf_vec = torch.from_numpy(batch["cf"]).to(self.device)
        self.temperature = temperature

    def nt_xent(self, a, b):
        torch = self.torch
        z = torch.nn.functional.normalize(torch.cat([a, b]), dim=1)
        n = a.shape[0]
        sim = z @ z.T / self.temperature
        sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=self.device),
                              float("-inf"))
        partner = torch.cat([torch.arange(n) + n, torch.arange(n)]).to(self.device)
        return torch.nn.functional.cross_entropy(sim, partner)

    def step(self):
        self.audio.train()
        self.cf.train()
        _, z_audio = self.audio(self.mel)
        loss = self.nt_xent(z_audio, self.cf(self.cf_vec))
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return float(loss.detach())

    def embed(self, chunks):
        self.audio.eval()
        with self.torch.no_grad():
            x = self.torch.from_numpy(chunks)[:, None].to(self.device)
            return self.audio(x)[1].cpu().numpy()


def interleaved(sides, rounds, per_round):
    """{side name: [seconds per step]} with the sides taking turns."""
    times = {side.name: [] for side in sides}
    for r in range(rounds):
        for side in sides:
            for _ in range(per_round):
                t0 = time.perf_counter()
                loss = side.step()
                times[side.name].append(time.perf_counter() - t0)
                if not np.isfinite(loss):
                    raise RuntimeError(f"{side.name}: loss is {loss}")
        print(f"  round {r + 1}/{rounds}: " + ", ".join(
            f"{k} {v[-1]:.2f} s/step" for k, v in times.items()), flush=True)
    return times


def clips_per_second(side, clips, repeats):
    chunks = np.random.default_rng(1).normal(
        size=(clips * CHUNKS_PER_30S, 48, 256)).astype(np.float32)
    side.embed(chunks)  # warm-up / tracing
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        emb = side.embed(chunks)
        emb.reshape(clips, CHUNKS_PER_30S, -1).mean(axis=1)
        best = min(best, time.perf_counter() - t0)
    return clips / best


def race(sides, args, inference_repeats):
    """Warm every side up, then time its training steps (interleaved rounds)
    and its inference: ({name: step seconds}, {name: samples/s},
    {name: clips/s})."""
    print(f"warm-up: {args.warmup} step(s) per side", flush=True)
    for side in sides:
        for _ in range(args.warmup):
            side.step()
    rounds = max(1, -(-args.steps // args.per_round))
    times = interleaved(sides, rounds, args.per_round)
    rate = {k: args.batch / statistics.median(v) for k, v in times.items()}
    clips = {side.name: clips_per_second(side, args.clips, inference_repeats) for side in sides}
    return times, rate, clips


def race_lines(times, rate, clips, step_unit):
    """One results line per side; step times in ``step_unit`` ("s" or "ms")."""
    scale = {"s": 1.0, "ms": 1e3}[step_unit]
    fmt = ".1f" if step_unit == "s" else ".0f"
    return [f"- {k}: {rate[k]:.1f} samples/s training (median of {len(times[k])} steps, "
            f"{min(times[k]) * scale:{fmt}}-{max(times[k]) * scale:{fmt}} {step_unit}/step), "
            f"{clips[k]:.1f} clips/s inference (30 s clips, {CHUNKS_PER_30S} chunks each)"
            for k in rate]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10,
                        help="timed steps per side (after the warm-up)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per side")
    parser.add_argument("--per-round", type=int, default=2,
                        help="consecutive steps of one side before the other's turn")
    parser.add_argument("--cores", type=int, default=os.cpu_count(),
                        help="intra-op threads of both frameworks")
    parser.add_argument("--inter-op", type=int, default=1,
                        help="TensorFlow inter-op threads (1: ops run one after "
                             "another, each using every core)")
    parser.add_argument("--clips", type=int, default=8, help="30 s clips per inference batch")
    parser.add_argument("--no-torch", action="store_true", help="time era_zoo only")
    parser.add_argument("--plain", action="store_true",
                        help="also time the same model with the textbook layer-by-layer "
                             "encoder trunk (what era_zoo's block recipes replace)")
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    args = parser.parse_args(argv)

    configure_threads(args.cores, args.inter_op)
    batch = make_batch(args.batch, 48, 256, 301)
    sides = [EraZooSide(batch)] + ([EraZooSide(batch, plain=True)] if args.plain else [])
    sides += [] if args.no_torch else [TorchSide(batch)]
    times, rate, clips = race(sides, args, inference_repeats=2)
    lines = race_lines(times, rate, clips, step_unit="s")
    for other in ("Keras plain", "PyTorch"):
        if other in rate:
            lines.append(f"- ratio era_zoo / {other}: {rate['era_zoo'] / rate[other]:.2f}x "
                         f"training, {clips['era_zoo'] / clips[other]:.2f}x inference")
    print("\n".join(lines))
    if args.write:
        write_section("train_step", measured(args, lines))
        print(f"wrote the train_step section of {RESULTS}")


def machine():
    """(UTC time stamp, CPU model name, 1-minute load average) of this run."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]
        cpu = names[0] if names else cpu
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return stamp, cpu, load


def measured(args, lines):
    """The measured block of the train_step section: machine, versions,
    settings, then ``lines`` (RESULTS.md keeps its prose around the block)."""
    import tensorflow as tf
    import torch

    stamp, cpu, load = machine()
    return "\n".join([
        f"Measured {stamp} on {cpu}, "
        f"{os.cpu_count()} cores, load average {load:.1f} at the end; TF {tf.__version__}, "
        f"torch {torch.__version__}; batch {args.batch}, {args.steps} timed steps per "
        f"side in rounds of {args.per_round}, {args.cores} intra-op threads, "
        f"{args.inter_op} TF inter-op thread(s).", "", *lines])


if __name__ == "__main__":
    main()
