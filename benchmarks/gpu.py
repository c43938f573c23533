"""Training-step speed of era_zoo on Keras-on-JAX against the PyTorch
reference, for machines without TensorFlow (the lent GPU machines have JAX
and PyTorch only; see gpu.sh beside this file for carrying keras there).

The step is benchmarks/train_step.py's: batch 128 of 48x256 log-mels and
301-d CF vectors, paper B's audio and CF encoders, NT-Xent (tau 0.1), one
Adam update with PyTorch's coupled L2 weight decay 1e-4 (era_zoo's AdamL2,
``torch.optim.Adam(weight_decay=1e-4)``).

- era_zoo: ``ContrastiveA2P.train_on_batch`` under ``KERAS_BACKEND=jax``
  (Keras' own JAX train step, jit-compiled by XLA, through the model's
  ``compute_loss``).
- PyTorch: the reference architecture, eager, on CUDA when there is a GPU.

The two sides take turns in rounds (train_step.interleaved); each side's
figure is its median step. Inference: 30 s clips embedded per second (7
chunks of 256 frames each, encoder projection in inference mode, mean over
chunks), host arrays in and out on both sides.

``--precision float32`` (default) asks both frameworks for full float32
matrix and convolution arithmetic; ``tf32`` lets both use TF32 tensor cores.

    python benchmarks/gpu.py                 # GPU machine: defaults, a few minutes
    python benchmarks/gpu.py --steps 4 --warmup 1 --write   # 2-core CPU

``--write`` replaces the "## gpu: CPU" or "## gpu: GPU" section of
benchmarks/RESULTS.md, by the device JAX ran on.
"""
import argparse
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np  # noqa: E402

from results import RESULTS, write_section  # noqa: E402
from train_step import TorchSide, machine, make_batch, race, race_lines  # noqa: E402

ERA_ZOO = "era_zoo (Keras on JAX)"


class JaxSide:
    """era_zoo's ContrastiveA2P (paper size) trained by Keras on JAX."""

    name = ERA_ZOO

    def __init__(self, batch):
        import jax

        import era_zoo
        from era_zoo.training.optimizers import AdamL2

        self.model = era_zoo.create_model("contrastive_a2p")
        self.model.compile(optimizer=AdamL2(1e-4, l2=1e-4), jit_compile=True)
        # Placed on the device once: no per-step host-to-device copy, as the
        # PyTorch side keeps its batch on its device.
        self.batch = {k: jax.device_put(v) for k, v in batch.items()}
        encoder = self.model.audio_encoder

        def embed(trainable, non_trainable, chunks):
            out, _ = encoder.stateless_call(trainable, non_trainable, chunks, training=False)
            return out
        self._embed = jax.jit(embed)

    def step(self):
        logs = self.model.train_on_batch(self.batch, return_dict=True)
        return float(logs["loss"])

    def embed(self, chunks):
        encoder = self.model.audio_encoder
        return np.asarray(self._embed([v.value for v in encoder.trainable_variables],
                                      [v.value for v in encoder.non_trainable_variables],
                                      chunks))


def set_precision(precision, torch_device):
    """Both frameworks' matrix/convolution precision, by one name."""
    import jax
    import torch

    tf32 = precision == "tf32"
    jax.config.update("jax_default_matmul_precision", "tensorfloat32" if tf32 else "highest")
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    torch.set_float32_matmul_precision("high" if tf32 else "highest")
    if torch_device == "cuda":
        torch.backends.cudnn.benchmark = True  # the reference's shapes never change


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=30,
                        help="timed steps per side (after the warm-up)")
    parser.add_argument("--warmup", type=int, default=3,
                        help="untimed steps per side (the first compiles the JAX step)")
    parser.add_argument("--per-round", type=int, default=5,
                        help="consecutive steps of one side before the other's turn")
    parser.add_argument("--clips", type=int, default=64, help="30 s clips per inference batch")
    parser.add_argument("--precision", choices=("float32", "tf32"), default="float32")
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    args = parser.parse_args(argv)

    import jax
    import keras
    import torch

    if keras.backend.backend() != "jax":
        sys.exit(f"gpu.py measures Keras on JAX; KERAS_BACKEND is {keras.backend.backend()}")
    jax_device = jax.devices()[0]
    torch_device = "cuda" if torch.cuda.is_available() else "cpu"
    if torch_device == "cpu":
        torch.set_num_threads(os.cpu_count())
    set_precision(args.precision, torch_device)
    print(f"JAX {jax.__version__} on {jax_device.device_kind} ({jax.default_backend()}), "
          f"PyTorch {torch.__version__} on {torch_device}, keras {keras.__version__}, "
          f"{args.precision}", flush=True)

    batch = make_batch(args.batch, 48, 256, 301)
    sides = [JaxSide(batch), TorchSide(batch, device=torch_device)]
    times, rate, clips = race(sides, args, inference_repeats=3)
    lines = race_lines(times, rate, clips, step_unit="ms")
    lines.append(f"- ratio era_zoo (JAX) / PyTorch: {rate[ERA_ZOO] / rate['PyTorch']:.2f}x "
                 f"training, {clips[ERA_ZOO] / clips['PyTorch']:.2f}x inference")
    print("\n".join(lines))
    if args.write:
        kind = "GPU" if jax.default_backend() == "gpu" else "CPU"
        stamp, cpu, load = machine()
        device = jax_device.device_kind if kind == "GPU" else f"{cpu}, {os.cpu_count()} cores"
        head = (f"Measured {stamp} on {device}, load average {load:.1f} at the end; "
                f"JAX {jax.__version__}, keras {keras.__version__}, torch {torch.__version__} "
                f"({torch_device}); batch {args.batch}, {args.steps} timed steps per side in "
                f"rounds of {args.per_round}, {args.clips} clips, {args.precision}.")
        write_section(f"gpu: {kind}", "\n".join([head, "", *lines]))
        print(f"wrote the gpu: {kind} section of {RESULTS}")


if __name__ == "__main__":
    main()
