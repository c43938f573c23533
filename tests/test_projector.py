"""The TensorBoard projector: what TensorBoard itself serves for the
README's commands (`tensorboard --logdir demo_out/runs`, `--logdir RUN_DIR`,
`--logdir OUT` of `era-zoo project`), metadata columns, and `era-zoo project`
on a saved model."""
import numpy as np
import pytest

from era_zoo.errors import ConfigError, DataError
from era_zoo.training.projector import tensor_name, write_projector


def _tensorboard(logdir):
    """A client of the app `tensorboard --logdir LOGDIR --load_fast=false`
    serves: TensorBoard's own flags, plugins (the projector comes in through
    its entry point, as for the command), event multiplexer and WSGI app.
    The reload runs once, before the first request."""
    import werkzeug.test
    from tensorboard import default, program
    from tensorboard.backend import application
    from tensorboard.backend.event_processing.data_ingester import LocalDataIngester

    tb = program.TensorBoard(plugins=default.get_plugins())
    tb.configure(argv=["tensorboard", "--logdir", str(logdir), "--load_fast", "false",
                       "--reload_interval", "0", "--reload_task", "blocking"])
    ingester = LocalDataIngester(tb.flags)
    ingester.start()
    app = application.TensorBoardWSGIApp(tb.flags, tb.plugin_loaders, ingester.data_provider,
                                         tb.assets_zip_provider,
                                         ingester.deprecated_multiplexer)
    return werkzeug.test.Client(app)


def _projector(client, run):
    """{tensor name: array} and the metadata text the Projector tab loads
    for ``run``, through the routes its page calls."""
    info = client.get("/data/plugin/projector/info", query_string={"run": run}).get_json()
    tensors, metadata = {}, set()
    for emb in info["embeddings"]:
        name = emb["tensorName"]
        data = client.get("/data/plugin/projector/tensor",
                          query_string={"run": run, "name": name}).data
        tensors[name] = np.frombuffer(data, np.float32).reshape(
            [int(d) for d in emb["tensorShape"]])
        metadata.add(client.get("/data/plugin/projector/metadata",
                                query_string={"run": run, "name": name}).get_data(as_text=True))
    [metadata] = metadata  # one file for every tensor
    return tensors, metadata


def _fake_run(run_dir, model_name, rng):
    """What the trainer leaves in RUN_DIR for TensorBoard: scalars through
    its Scalars callback, a projector of five tracks at both levels."""
    import keras

    from era_zoo.training.callbacks import Position, Scalars
    from era_zoo.training.run_dir import RunDir

    run = RunDir(run_dir)
    scalars = Scalars(run.tensorboard, Position(), 1)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    scalars.set_model(model)
    scalars.on_train_batch_end(0, {"loss": 0.5})
    scalars.on_epoch_end(0, {"loss": 0.5, "val_loss": 0.75})
    scalars.on_train_end()
    tensors = {tensor_name(model_name, "trunk"): rng.normal(size=(5, 16)).astype(np.float32),
               tensor_name(model_name, "projection"): rng.normal(size=(5, 4)).astype(np.float32)}
    rows = [{"track_id": f"{model_name}-{i}", "year": 1900 + i} for i in range(5)]
    write_projector(tensors, rows, run.projector)
    return tensors


def test_tensorboard_shows_scalars_and_projector_for_the_readme_commands(tmp_path):
    rng = np.random.default_rng(0)
    runs = tmp_path / "demo_out" / "runs"  # era-zoo demo's layout: runs/<model>/
    written = {name: _fake_run(runs / name, name, rng) for name in ("audio_cnn", "audio_suc")}

    # tensorboard --logdir demo_out/runs: each run's scalars and projector.
    # (The Projector tab is active exactly when this list is non-empty: the
    # plugin's is_active and its runs route read the same configs.)
    client = _tensorboard(runs)
    assert sorted(client.get("/data/plugin/projector/runs").get_json()) == [
        "audio_cnn/tensorboard/projector", "audio_suc/tensorboard/projector"]
    tags = client.get("/data/plugin/scalars/tags").get_json()
    for name in written:
        assert {"batch_loss", "epoch_loss", "epoch_learning_rate"} <= set(
            tags[f"{name}/tensorboard/train"])
        assert set(tags[f"{name}/tensorboard/validation"]) == {"epoch_loss"}
        tensors, metadata = _projector(client, f"{name}/tensorboard/projector")
        assert list(tensors) == [f"{name}/trunk", f"{name}/projection"]
        for key, value in written[name].items():
            np.testing.assert_array_equal(tensors[key], value)
        assert metadata.splitlines() == ["track_id\tyear\tdecade\tgenre\tartist"] + [
            f"{name}-{i}\t{1900 + i}\t\t\t" for i in range(5)]
    [point] = client.get("/data/plugin/scalars/scalars", query_string={
        "run": "audio_suc/tensorboard/validation", "tag": "epoch_loss"}).get_json()
    assert point[1:] == [1, 0.75]  # [wall time, step, value]

    # tensorboard --logdir RUN_DIR: the same for one run.
    client = _tensorboard(runs / "audio_cnn")
    assert client.get("/data/plugin/projector/runs").get_json() == ["tensorboard/projector"]
    assert "epoch_loss" in client.get("/data/plugin/scalars/tags").get_json()["tensorboard/train"]
    tensors, _ = _projector(client, "tensorboard/projector")
    for key, value in written["audio_cnn"].items():
        np.testing.assert_array_equal(tensors[key], value)


def test_metadata_cells_and_rewrite(tmp_path):
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(5, 3)).astype(np.float32)
    rows = [{"track_id": f"t{i}", "year": 1960 + 10 * i, "decade": f"{1960 + 10 * i}s",
             "genre": "rock\tpop" if i == 0 else "jazz", "artist": None} for i in range(5)]
    out = write_projector({"m/projection": emb}, rows, tmp_path / "projector")

    lines = (out / "metadata.tsv").read_text().splitlines()
    assert lines[0] == "track_id\tyear\tdecade\tgenre\tartist"
    # A tab inside a value would add a column; it becomes a space.
    assert lines[1] == "t0\t1960\t1960s\trock pop\t"
    assert [line.split("\t")[1] for line in lines[1:]] == ["1960", "1970", "1980", "1990", "2000"]

    # Writing again replaces the projector whole; `tensorboard --logdir OUT`
    # (the root itself is a run) shows the new one.
    write_projector({"m/projection": emb[:2]}, rows[:2], out)
    assert len((out / "metadata.tsv").read_text().splitlines()) == 3
    client = _tensorboard(out)
    assert client.get("/data/plugin/projector/runs").get_json() == ["."]
    tensors, _ = _projector(client, ".")
    np.testing.assert_array_equal(tensors["m/projection"], emb[:2])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["projector"]  # no leftovers


@pytest.mark.parametrize("tensors, rows, error, message", [
    ({"m/p": np.zeros((2, 3))}, [{}], DataError, "1 metadata rows for 2"),
    ({"m/p": np.full((1, 3), np.nan)}, [{}], DataError, "m/p: embeddings contain NaN"),
    ({"m/p": np.zeros((0, 3))}, [], DataError, "non-empty"),
    ({"m/p": np.zeros(3)}, [{}], DataError, "non-empty"),
    ({"m/t": np.zeros((2, 3)), "m/p": np.zeros((1, 3))}, [{}], DataError,
     "different numbers of rows: m/t 2, m/p 1"),
    ({}, [], ConfigError, "no embeddings"),
    ({"m/p": np.zeros((1, 3))}, [("a", "b")], ConfigError, "2 values for 5 columns"),
])
def test_bad_projector_input(tmp_path, tensors, rows, error, message):
    with pytest.raises(error, match=message):
        write_projector(tensors, rows, tmp_path / "p")
    assert not (tmp_path / "p").exists()


def test_project_command_on_a_saved_model(tmp_path):
    import keras

    from era_zoo.cli import main
    from era_zoo.data.fixtures import write_melon_fixture
    from era_zoo.data.readers import read_dataset
    from era_zoo.models import BaselineGenre

    root = tmp_path / "melon"
    write_melon_fixture(root, n_tracks=20, n_playlists=10)
    model = BaselineGenre(n_genres=3, encoder={"n_frames": 64, "channels": [4, 4],
                                              "pools": [[4, 4], [4, 4]], "hidden_dim": 8})
    model.save(tmp_path / "m.keras")
    out = tmp_path / "projector"
    assert main(["project", str(tmp_path / "m.keras"), "--data", str(root),
                 "--out", str(out), "--split", "train", "--max-tracks", "0"]) == 0

    # What `tensorboard --logdir OUT` (the command's advice) serves.
    client = _tensorboard(out)
    assert client.get("/data/plugin/projector/runs").get_json() == ["."]
    tensors, metadata = _projector(client, ".")
    assert list(tensors) == ["baseline_genre/trunk", "baseline_genre/projection"]
    lines = metadata.splitlines()[1:]
    train = read_dataset("melon", root).split("train").by_id()
    assert len(lines) == len(train)
    assert [len(t) for t in tensors.values()] == [len(train)] * 2
    # Independent statement: each track's (48, T) mel cut into T // 64
    # chunks of 64 frames, encoded, averaged; the trunk is the flattened
    # conv output, the projection the encoder's output.
    encoder = model.audio_encoder
    for i, line in enumerate(lines):
        track = train[line.split("\t")[0]]
        mel = np.load(track.mel_path)
        n = mel.shape[1] // 64
        chunks = mel[:, :n * 64].reshape(48, n, 64).transpose(1, 0, 2)
        trunk = keras.ops.convert_to_numpy(encoder.trunk(chunks, training=False))
        projection = keras.ops.convert_to_numpy(encoder(chunks))
        np.testing.assert_allclose(tensors["baseline_genre/trunk"][i], trunk.mean(axis=0),
                                   rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(tensors["baseline_genre/projection"][i],
                                   projection.mean(axis=0), rtol=1e-4, atol=1e-5)
        year = track.year
        assert line.split("\t")[1:3] == ([str(year), f"{year // 10 * 10}s"] if year else ["", ""])


def test_project_command_reports_missing_model_and_unknown_layout(tmp_path, capsys):
    from era_zoo.cli import main
    from era_zoo.cli.project import detect_reader
    from era_zoo.data.fixtures import write_gtzan_fixture

    (tmp_path / "empty").mkdir()
    assert main(["project", str(tmp_path / "absent.keras"), "--data", str(tmp_path / "empty"),
                 "--out", str(tmp_path / "p")]) == 2
    assert "absent.keras: model file not found" in capsys.readouterr().err
    with pytest.raises(ConfigError) as err:
        detect_reader(tmp_path / "empty")
    assert err.value.field == "--reader"
    write_gtzan_fixture(tmp_path / "gtzan", per_genre=1, seconds=1)
    assert detect_reader(tmp_path / "gtzan") == "gtzan"
