"""The TensorBoard projector: files TensorBoard's own projector plugin reads,
metadata columns, and `era-zoo project` on a saved model."""
import numpy as np
import pytest

from era_zoo.training.projector import TENSOR_NAME, write_projector


def _plugin_view(logdir):
    """What TensorBoard's projector plugin finds in ``logdir`` (its own code,
    as `tensorboard --logdir` runs it; no runs, so the root is the run ".")."""
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.projector.projector_plugin import ProjectorPlugin

    class NoRuns:
        def list_runs(self, ctx=None, *, experiment_id):
            return []

    plugin = ProjectorPlugin(base_plugin.TBContext(logdir=str(logdir), data_provider=NoRuns()))
    plugin._update_configs()
    return plugin


def test_tensorboard_projector_plugin_reads_what_we_write(tmp_path):
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(5, 3)).astype(np.float32)
    rows = [{"track_id": f"t{i}", "year": 1960 + 10 * i, "decade": f"{1960 + 10 * i}s",
             "genre": "rock\tpop" if i == 0 else "jazz", "artist": None} for i in range(5)]
    out = write_projector(emb, rows, tmp_path / "projector")

    plugin = _plugin_view(out)
    config = plugin._configs["."]
    [embedding] = config.embeddings
    assert embedding.tensor_name == TENSOR_NAME
    assert list(embedding.tensor_shape) == [5, 3]
    assert embedding.metadata_path.endswith("metadata.tsv")
    reader = plugin._get_reader_for_run(".")
    np.testing.assert_array_equal(reader.get_tensor(TENSOR_NAME), emb)

    lines = (out / "metadata.tsv").read_text().splitlines()
    assert lines[0] == "track_id\tyear\tdecade\tgenre\tartist"
    # A tab inside a value would add a column; it becomes a space.
    assert lines[1] == "t0\t1960\t1960s\trock pop\t"
    assert [line.split("\t")[1] for line in lines[1:]] == ["1960", "1970", "1980", "1990", "2000"]

    # Writing again replaces the projector whole.
    write_projector(emb[:2], rows[:2], out)
    assert len((out / "metadata.tsv").read_text().splitlines()) == 3
    assert list(_plugin_view(out)._configs["."].embeddings[0].tensor_shape) == [2, 3]


@pytest.mark.parametrize("emb, rows, message", [
    (np.zeros((2, 3)), [{}], "1 metadata rows for 2"),
    (np.full((1, 3), np.nan), [{}], "NaN"),
    (np.zeros((0, 3)), [], "non-empty"),
    (np.zeros(3), [{}], "non-empty"),
    (np.zeros((1, 3)), [("a", "b")], "2 values for 5 columns"),
])
def test_bad_projector_input(tmp_path, emb, rows, message):
    with pytest.raises(ValueError, match=message):
        write_projector(emb, rows, tmp_path / "p")
    assert not (tmp_path / "p").exists()


def test_project_command_on_a_saved_model(tmp_path):
    import keras
    import tensorflow as tf

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

    lines = (out / "metadata.tsv").read_text().splitlines()[1:]
    emb = tf.train.load_checkpoint(str(out)).get_tensor(TENSOR_NAME)
    train = read_dataset("melon", root).split("train").by_id()
    assert len(lines) == len(emb) == len(train)
    # Independent statement: each track's (48, T) mel cut into T // 64
    # chunks of 64 frames, encoded, averaged.
    for line, vector in zip(lines, emb):
        track = train[line.split("\t")[0]]
        mel = np.load(track.mel_path)
        n = mel.shape[1] // 64
        chunks = mel[:, :n * 64].reshape(48, n, 64).transpose(1, 0, 2)
        expected = keras.ops.convert_to_numpy(model.audio_encoder(chunks)).mean(axis=0)
        np.testing.assert_allclose(vector, expected, rtol=1e-4, atol=1e-5)
        year = track.year
        assert line.split("\t")[1:3] == ([str(year), f"{year // 10 * 10}s"] if year else ["", ""])


def test_project_command_reports_missing_model_and_unknown_layout(tmp_path, capsys):
    from era_zoo.cli import main
    from era_zoo.cli.project import detect_reader
    from era_zoo.data.fixtures import write_gtzan_fixture
    from era_zoo.errors import ConfigError

    (tmp_path / "empty").mkdir()
    assert main(["project", str(tmp_path / "absent.keras"), "--data", str(tmp_path / "empty"),
                 "--out", str(tmp_path / "p")]) == 2
    assert "absent.keras: model file not found" in capsys.readouterr().err
    with pytest.raises(ConfigError) as err:
        detect_reader(tmp_path / "empty")
    assert err.value.field == "--reader"
    write_gtzan_fixture(tmp_path / "gtzan", per_genre=1, seconds=1)
    assert detect_reader(tmp_path / "gtzan") == "gtzan"
