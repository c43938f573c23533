"""One inference path: a track shorter than one chunk gives the same rows
through every library entry point (and those rows are its log-mel repeated
to one chunk, as training crops are), while the commands on files refuse it
for an era model, which needs one whole chunk of real audio; model sources load by one rule; artist text
reaches AudioArt-MMC from `era-zoo predict`."""
import json

import keras
import numpy as np
import pytest
import soundfile as sf

import era_zoo
from era_zoo.audio.mel import LogMel
from era_zoo.cli import main
from era_zoo.data.table import Track, TrackTable
from era_zoo.errors import ConfigError, DataError
from era_zoo.registry import model_info

RATE = 16000      # the test configurations read melon48 mels: 16 kHz, hop 256
FRAMES = 64       # ... in 64-frame chunks
SHORT = 8000      # samples: 1 + 8000 // 256 = 32 frames, half a chunk


def _write_wav(path, samples, seed):
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / RATE
    wave = 0.3 * np.sin(2 * np.pi * (220 + 200 * seed) * t) + 0.05 * rng.normal(size=samples)
    sf.write(path, wave.astype(np.float32), RATE, subtype="FLOAT")
    return path


@pytest.fixture(scope="module")
def era_model(tmp_path_factory):
    model = era_zoo.create_model("audio_cnn", **model_info("audio_cnn").test_config)
    path = tmp_path_factory.mktemp("model") / "audio_cnn.keras"
    model.save(path)
    return model, path


@pytest.fixture()
def short_track(tmp_path):
    wav = _write_wav(tmp_path / "short.wav", SHORT, seed=0)
    return TrackTable("short", [Track("short", split="test", year=2001, audio_path=str(wav))])


def _hand_chunk(model, wav):
    """The track's log-mel (the LogMel layer on the file's samples) repeated
    along time to one chunk: np.tile of its 32 frames twice."""
    wave, rate = sf.read(wav, dtype="float32")
    assert rate == RATE
    mel = keras.ops.convert_to_numpy(LogMel(model.mel_spec)(wave[None]))[0]
    assert mel.shape == (48, 32)
    return np.tile(mel, (1, 2))[None]


def test_a_short_track_gives_identical_rows_through_every_entry_point(
        era_model, short_track, tmp_path, capsys):
    from era_zoo import inference
    from era_zoo.bench import embed_table
    from era_zoo.bench.era import predict_with_model
    from era_zoo.bench.sources import load_embeddings
    from era_zoo.training.projector import embed_tracks as projector_embed

    model, saved = era_model
    wav = short_track.tracks[0].audio_path
    chunk = _hand_chunk(model, wav)
    expected = keras.ops.convert_to_numpy(model.audio_encoder(chunk))
    logits = keras.ops.convert_to_numpy(model({"mel": chunk})["logits"])[0].astype(np.float64)
    expected_probs = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()

    rows = {
        "inference.embed_tracks": inference.embed_tracks(model, short_track).X,
        "inference.embed (waveform)": inference.embed(
            model, sf.read(wav, dtype="float32")[0], RATE)["chunks"],
        "bench embed_table": embed_table(short_track, model, progress=False).X,
        "projector embed_tracks": projector_embed(model, short_track)[1],
    }
    # The commands on files refuse it: an era model needs one whole chunk of
    # the file's own audio (issue 13: no prediction from repeated audio).
    assert main(["embed", wav, "--model", str(saved), "-o", str(tmp_path / "e.npz")]) == 3
    assert (f"era-zoo embed: error: {wav}: too short: 0.500 s (32 mel frames); the model "
            "needs at least 1.01 s (64 frames) of real audio") in capsys.readouterr().err
    assert not (tmp_path / "e.npz").exists()
    for where, got in rows.items():
        assert got.shape == (1, 16), where
        np.testing.assert_array_equal(got, rows["inference.embed_tracks"], err_msg=where)
    np.testing.assert_allclose(rows["inference.embed_tracks"], expected, rtol=1e-5, atol=1e-6)

    probs = {
        "inference.predict_tracks": inference.predict_tracks(model, short_track)[0][0],
        "era benchmark": predict_with_model(short_track, model, progress=False)[0][0],
        "inference.predict_era": np.array(inference.predict_era(
            model, sf.read(wav, dtype="float32")[0], RATE, top=4)["probabilities"]),
    }
    assert main(["predict", wav, "--model", str(saved), "--json"]) == 3
    [row] = json.loads(capsys.readouterr().out)
    assert "too short" in row["error"]
    for where, got in probs.items():
        assert got.shape == (4,), where
        np.testing.assert_allclose(got, probs["inference.predict_tracks"], rtol=0, atol=1e-7,
                                   err_msg=where)
    np.testing.assert_allclose(probs["inference.predict_tracks"], expected_probs, atol=1e-5)


def test_short_mels_pad_the_same_in_training_crops_and_inference(era_model, tmp_path):
    from era_zoo.data.pipeline import chunk_dataset, training_dataset
    from era_zoo.inference import chunk_mel, embed_tracks

    model, _ = era_model
    mel = np.random.default_rng(1).normal(size=(48, 23)).astype(np.float32)
    np.save(tmp_path / "m.npy", mel)
    table = TrackTable("m", [Track("m", split="train", mel_path=str(tmp_path / "m.npy"))])
    tiled = np.tile(mel, (1, 3))[:, :FRAMES]  # 23 + 23 + 18 frames
    np.testing.assert_array_equal(chunk_mel(mel, FRAMES)[0], tiled)
    crop = next(iter(training_dataset(table, "melon48", source="mel", frames=FRAMES,
                                      batch_size=None)))["mel"].numpy()
    chunks = next(iter(chunk_dataset(table, "melon48", source="mel", frames=FRAMES)))["mel"]
    np.testing.assert_array_equal(crop, tiled)
    np.testing.assert_array_equal(chunks.numpy()[0], tiled)
    expected = keras.ops.convert_to_numpy(model.audio_encoder(tiled[None]))
    np.testing.assert_allclose(embed_tracks(model, table).X, expected, rtol=1e-5, atol=1e-6)


def test_mel_or_audio_one_rule(tmp_path):
    from era_zoo.audio.presets import get_preset
    from era_zoo.inference import track_input

    spec = get_preset("melon48")
    wav = _write_wav(tmp_path / "a.wav", 4000, seed=2)
    mel48 = np.zeros((48, 10), np.float32)
    mel96 = np.zeros((96, 10), np.float32)
    np.save(tmp_path / "m48.npy", mel48)
    np.save(tmp_path / "m96.npy", mel96)
    both = Track("t", audio_path=str(wav), mel_path=str(tmp_path / "m48.npy"))
    x, where = track_input(both, spec)
    assert x.shape == (48, 10) and where.endswith("m48.npy")
    # The mel does not fit the model (band count, or a stated preset): the audio.
    for track, preset in ((Track("t", audio_path=str(wav), mel_path=str(tmp_path / "m96.npy")),
                           None), (both, "era224")):
        x, where = track_input(track, spec, mel_preset=preset)
        assert x.shape == (4000,) and where == str(wav)
    with pytest.raises(DataError, match="has no audio and its mel has 96 bands, the model "
                                        "reads 48"):
        track_input(Track("t", mel_path=str(tmp_path / "m96.npy")), spec)
    np.save(tmp_path / "nan.npy", np.full((48, 10), np.nan, np.float32))
    with pytest.raises(DataError, match="nan.npy: 480 mel value"):
        track_input(Track("t", audio_path=str(wav), mel_path=str(tmp_path / "nan.npy")), spec)


def test_model_sources(era_model, tmp_path):
    from era_zoo.inference import load_model

    model, saved = era_model
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    model.save(run / "checkpoints" / "best.keras")
    x = np.random.default_rng(3).normal(size=(1, 48, FRAMES)).astype(np.float32)
    expected = keras.ops.convert_to_numpy(model.audio_encoder(x))
    for source in (saved, run, model):
        got = load_model(source).audio_encoder(x)
        np.testing.assert_allclose(keras.ops.convert_to_numpy(got), expected, rtol=1e-6)
    assert load_model(model) is model
    with pytest.raises(ConfigError, match="already holds its weights"):
        load_model(saved, weights="audio_cnn_demo")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty: holds no model"):
        load_model(tmp_path / "empty")
    with pytest.raises(DataError, match="absent.keras: model file not found"):
        load_model(tmp_path / "absent.keras")
    with pytest.raises(DataError, match="not found"):
        load_model(tmp_path / "nowhere" / "model")
    # A registered name without a preset is random: said, not silent.
    with pytest.warns(UserWarning, match="randomly initialised"):
        load_model("contrastive_a2p")


def test_project_command_loads_a_name_like_predict(tmp_path, capsys):
    """`era-zoo project audio_cnn` uses audio_cnn's default preset (era224):
    Melon's mels (melon48) and no audio give it nothing to read, so it
    refuses each track by name; it never embeds with random weights."""
    from era_zoo.data.fixtures import write_melon_fixture

    root = tmp_path / "melon"
    write_melon_fixture(root, n_tracks=6, n_playlists=3)
    code = main(["project", "audio_cnn", "--data", str(root), "--out", str(tmp_path / "p"),
                 "--split", "train"])
    assert code == 2
    err = capsys.readouterr().err
    assert "has no audio and its mel is melon48, the model reads era224" in err


# --- artist text -------------------------------------------------------------------

TEXTS = {"a1": "baroque organist and composer from leipzig, cantatas and fugues",
         "a2": "romantic pianist from vienna, waltzes and nocturnes"}


@pytest.fixture(scope="module")
def mmc_run(tmp_path_factory):
    """A training-run folder of a small AudioArt-MMC with a WordPiece text
    transformer and the tokenizer it was built for."""
    from era_zoo.sideinfo.artist_text import ArtistTextTable

    table = ArtistTextTable.from_texts(TEXTS, vocab_size=60, seq_len=12)
    config = model_info("audioart_mmc").test_config
    config["text_encoder"] = table.make_encoder(embedding_dim=16, num_heads=2,
                                                intermediate_dim=16, output_dim=16, dropout=0.0)
    model = era_zoo.create_model("audioart_mmc", **config)
    run = tmp_path_factory.mktemp("mmc_run")
    model.save(run / "model.keras")
    table.save(run / "artist_text")
    return run, model, table


def test_predict_feeds_artist_text_through_the_runs_tokenizer(mmc_run, tmp_path, capsys):
    run, model, table = mmc_run
    wav = _write_wav(tmp_path / "bach.wav", 3 * RATE, seed=4)
    text = TEXTS["a1"]

    from era_zoo.inference import ArtistTexts, predict_files

    # Each CLI call loads the run (seconds): audio only through the API.
    [row] = predict_files(model, [str(wav)])
    audio_only = row["result"]
    assert main(["predict", str(wav), "--model", str(run), "--json", "--artist-text", text]) == 0
    [row] = json.loads(capsys.readouterr().out)
    with_text = row["result"]
    assert audio_only["inputs"] == "audio only: no artist text given"
    assert with_text["inputs"] == "audio + artist text"
    assert not np.allclose(audio_only["probabilities"], with_text["probabilities"], atol=1e-4)

    # By hand: the file's log-mel cut in 64-frame chunks (188 frames: 2),
    # the text's token ids on every chunk, chunk probabilities averaged.
    wave, _ = sf.read(wav, dtype="float32")
    mel = keras.ops.convert_to_numpy(LogMel(model.mel_spec)(wave[None]))[0]
    chunks = mel[:, :128].reshape(48, 2, FRAMES).transpose(1, 0, 2)
    ids = table.tokenize([text])
    assert (ids != 0).sum() > 3  # the text is not all padding
    for tokens, result in ((ids, with_text), (np.zeros_like(ids), audio_only)):
        batch = {"mel": chunks, "artist_text": np.repeat(tokens, 2, axis=0)}
        expected = model.predict_year(batch)["probabilities"].astype(np.float64).mean(0)
        np.testing.assert_allclose(result["probabilities"], expected, rtol=1e-5, atol=1e-7)
    assert with_text["chunks"] == 2

    # A TSV: a text per file; a file without a line is reported, the rest
    # predicted, and the table output says what the model was fed.
    other = _write_wav(tmp_path / "other.wav", 2 * RATE, seed=5)
    tsv = tmp_path / "texts.tsv"
    tsv.write_text(f"file\tartist_text\n{wav}\t{text}\n", encoding="utf-8")
    good, missing = predict_files(model, [str(wav), str(other)],
                                  artist_text=ArtistTexts.from_tsv(tsv, table))
    np.testing.assert_allclose(good["result"]["probabilities"], with_text["probabilities"],
                               rtol=0, atol=1e-7)
    assert "other.wav: has no row in" in missing["error"] and "texts.tsv" in missing["error"]
    assert main(["predict", str(wav), str(other), "--model", str(run),
                 "--artist-text-file", str(tsv)]) == 3
    captured = capsys.readouterr()
    assert "inputs: audio + artist text" in captured.out
    assert f"era-zoo predict: error: {other}: has no row in {tsv}" in captured.err
    assert captured.err.endswith("era-zoo predict: 1 of 2 files failed\n")
    assert main(["predict", str(other), "--model", str(run)]) == 0
    assert "inputs: audio only: no artist text given" in capsys.readouterr().out


def test_artist_text_errors(mmc_run, era_model, tmp_path, capsys):
    from era_zoo.inference import load_model
    from era_zoo.inference.text import read_artist_text_tsv

    run, _, table = mmc_run
    _, saved = era_model
    wav = _write_wav(tmp_path / "a.wav", RATE, seed=6)
    assert main(["predict", str(wav), "--model", str(saved), "--artist-text", "x"]) == 2
    assert "reads no artist text" in capsys.readouterr().err
    lone = tmp_path / "lone.keras"  # an MMC without its run: no tokenizer beside it
    load_model(run).save(lone)
    assert main(["predict", str(wav), "--model", str(lone), "--artist-text", "x"]) == 2
    assert "ships no artist-text tokenizer" in capsys.readouterr().err
    # A run's .keras files find the run's tokenizer (the demo loads best.keras).
    from era_zoo.inference import load_artist_text
    assert load_artist_text(run / "model.keras").vocabulary == table.vocabulary
    (tmp_path / "run2" / "checkpoints").mkdir(parents=True)
    table.save(tmp_path / "run2" / "artist_text")
    best = tmp_path / "run2" / "checkpoints" / "best.keras"
    assert load_artist_text(best).vocabulary == table.vocabulary
    assert load_artist_text(lone) is None
    bad = tmp_path / "bad.tsv"
    bad.write_text("a.wav\ttext\nno tab here\n", encoding="utf-8")
    with pytest.raises(DataError, match="bad.tsv: line 2 has no tab"):
        read_artist_text_tsv(bad)
    bad.write_text("a.wav\tone\na.wav\ttwo\n", encoding="utf-8")
    with pytest.raises(DataError, match="listed twice"):
        read_artist_text_tsv(bad)
