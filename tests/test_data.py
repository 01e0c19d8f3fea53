"""Tests for tinyrnn.charlm: vocabulary, text loading, corpus, batching (the synthetic
tasks are tested in test_tasks.py)."""
import tracemalloc

import numpy as np
import pytest

from tinyrnn.charlm import (CharVocab, DataError, batchify, bptt_batches, default_corpus,
                          load_ids, load_text, num_bptt_batches, split_ids)
from tinyrnn.charlm import textfile
from tinyrnn.charlm.textfile import READ_CHUNK, _read_text


# ---- CharVocab --------------------------------------------------------------
def test_vocab_is_sorted_and_stable():
    text = "hello world, héllo ☃\n"
    vocab = CharVocab(text)
    assert vocab.chars == "".join(sorted(set(text)))
    assert len(vocab) == len(set(text))
    assert CharVocab(text[::-1]) == vocab           # order of the text is irrelevant
    assert CharVocab.from_text(text) == vocab


def test_encode_decode_round_trip():
    text = "The quick brown fox ☃ jumps\n\tover é"
    vocab = CharVocab(text)
    ids = vocab.encode(text)
    assert ids.dtype == np.int64 and ids.shape == (len(text),)
    assert [vocab.chars[i] for i in ids] == list(text)
    assert vocab.decode(ids) == text
    assert vocab.decode(ids.reshape(5, 7)) == text   # any shape, flattened
    assert vocab.decode([]) == "" and vocab.encode("").shape == (0,)
    assert vocab.index("☃") == vocab.chars.index("☃")


def test_encode_unknown_characters_named():
    vocab = CharVocab("abc")
    with pytest.raises(DataError, match=r"prime text has characters not in the "
                                        r"vocabulary: 'é', '☃'") as info:
        vocab.encode("abé☃é", what="prime text")
    assert "3 characters" in str(info.value)
    with pytest.raises(DataError, match="'z'"):           # beyond the last code point
        vocab.encode("z")
    with pytest.raises(DataError, match="'A'"):           # before the first
        vocab.encode("A")
    with pytest.raises(DataError, match="not in the vocabulary"):
        vocab.index("q")


def test_decode_rejects_bad_ids():
    vocab = CharVocab("abc")
    with pytest.raises(DataError, match=r"\[0, 3\)"):
        vocab.decode([0, 3])
    with pytest.raises(DataError, match="integer"):
        vocab.decode([0.5])


def test_vocab_json_round_trip():
    vocab = CharVocab('ab"\\\n☃é\x00')
    assert CharVocab.from_json(vocab.to_json()) == vocab
    assert CharVocab.from_json(vocab.to_dict()) == vocab
    with pytest.raises(DataError, match="sorted"):
        CharVocab.from_json({"type": "char", "chars": "ba"})
    with pytest.raises(DataError, match="expected"):
        CharVocab.from_json({"chars": ["a"]})
    with pytest.raises(DataError, match="invalid JSON"):
        CharVocab.from_json("{not json")


def test_vocab_rejects_empty():
    with pytest.raises(DataError, match="empty"):
        CharVocab("")


# ---- load_text ----------------------------------------------------------------
def test_load_text_reads_utf8(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes("\ufeffhéllo\r\nworld ☃".encode("utf-8"))
    assert load_text(path) == "héllo\r\nworld ☃"             # BOM dropped, \r\n kept


@pytest.mark.parametrize("content, message", [
    (None, "does not exist"),
    (b"", "is empty"),
    (b"\xef\xbb\xbf", "is empty"),
    (b"abc\x00def", r"looks binary \(NUL byte at offset 3\)"),
    (b"abc\xff\xfedef", r"is not UTF-8: byte 0xff at offset 3"),
    ("héllo".encode("latin-1"), r"byte 0xe9 at offset 1"),
    (b"\xef\xbb\xbfab\x00", r"NUL byte at offset 5\)"),       # offsets count the BOM
    (b"\xef\xbb\xbfab\xff", r"byte 0xff at offset 5 "),
])
def test_load_text_bad_files(tmp_path, content, message):
    path = tmp_path / "data.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError, match=message) as info:
        load_text(path)
    assert "data.txt" in str(info.value) and "\n" not in str(info.value)


def test_load_text_directory(tmp_path):
    with pytest.raises(DataError, match="is a directory"):
        load_text(tmp_path)


# ---- streaming: only what --max-chars needs is read and checked -------------------
MIXED = "\ufeff" + "héllo wörld ☃ 𝄞 naïve\r\n" * 7                # 1- to 4-byte characters


@pytest.mark.parametrize("chunk_bytes", [4, 5, 7, 64, 1 << 20])
def test_streaming_reads_pieces_exactly(tmp_path, chunk_bytes):
    path = tmp_path / "t.txt"
    path.write_bytes(MIXED.encode("utf-8"))
    text = MIXED[1:]                                         # the BOM is dropped
    assert "".join(_read_text(path, None, chunk_bytes)) == text
    for n in (1, 2, 13, len(text) - 1, len(text), len(text) + 5):
        assert "".join(_read_text(path, n, chunk_bytes)) == text[:n]
        assert load_text(path, max_chars=n) == text[:n]


@pytest.mark.parametrize("chunk_bytes", [4, 6, 1 << 20])
def test_streaming_errors_name_the_file_offset(tmp_path, chunk_bytes):
    path = tmp_path / "t.txt"
    good = "abcdéfghij☃klmnop".encode("utf-8")                  # 20 bytes
    for bad, message in ((b"\xff", r"not UTF-8: byte 0xff at offset 20"),
                         (b"\x00", r"looks binary \(NUL byte at offset 20\)"),
                         ("é".encode("utf-8")[:1], r"not UTF-8: byte 0xc3 at offset 20 "
                                                 r"\(unexpected end of data\)")):
        path.write_bytes(good + bad)
        with pytest.raises(DataError, match=message):
            "".join(_read_text(path, None, chunk_bytes))
        # what lies beyond --max-chars is never looked at
        assert "".join(_read_text(path, 17, chunk_bytes)) == good.decode("utf-8")
        with pytest.raises(DataError, match=message):
            "".join(_read_text(path, 18, chunk_bytes))


def test_a_large_binary_file_is_refused_after_a_bounded_read(tmp_path):
    path = tmp_path / "zeros.bin"
    with open(path, "wb") as f:
        f.truncate(64 * 2**20)                                # 64 MB of NUL bytes, sparse
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match=r"looks binary \(NUL byte at offset 0\)"):
            load_text(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * READ_CHUNK
    path.write_bytes(b"x" * 100 + b"\x00" * (8 * 2**20))
    tracemalloc.start()
    try:
        assert load_text(path, max_chars=100) == "x" * 100
        assert load_ids(path, max_chars=50)[0].shape == (50,)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * READ_CHUNK


def test_max_chars_must_be_positive(tmp_path):
    (tmp_path / "t.txt").write_text("abc")
    with pytest.raises(DataError, match="max_chars must be >= 1, got 0"):
        load_text(tmp_path / "t.txt", max_chars=0)


# ---- compact ids -----------------------------------------------------------------
def test_id_dtype_is_the_smallest_that_holds_the_vocabulary():
    def vocab_of(n):
        return CharVocab(chr(0x10000 + i) for i in range(n))      # no surrogates
    assert [vocab_of(n).id_dtype for n in (1, 256, 257, 65536, 65537)] == \
        [np.uint8, np.uint8, np.uint16, np.uint16, np.uint32]
    big = vocab_of(300)
    ids = big.encode(big.chars, dtype=big.id_dtype)
    assert ids.dtype == np.uint16 and np.array_equal(ids, np.arange(300))
    assert big.decode(ids) == big.chars


def test_encode_in_pieces(monkeypatch):
    import tinyrnn.charlm.vocab as vocab_module
    text = "The quick brown fox ☃ jumps\n\tover é" * 3
    vocab = CharVocab(text)
    whole = vocab.encode(text)
    monkeypatch.setattr(vocab_module, "ENCODE_CHUNK", 7)
    assert np.array_equal(vocab.encode(text), whole)
    assert np.array_equal(vocab.encode(text, dtype=np.uint8), whole)
    with pytest.raises(DataError, match=r"'A', 'Z'"):     # unknowns of every piece
        vocab.encode("A" + text + "Z")


def test_load_ids(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes(MIXED.encode("utf-8"))
    text = MIXED[1:]
    ids, vocab = load_ids(path)
    assert vocab == CharVocab(text) and ids.dtype == np.uint8
    assert np.array_equal(ids, vocab.encode(text)) and vocab.decode(ids) == text
    ids, same = load_ids(path, max_chars=10, vocab=vocab)
    assert same is vocab and vocab.decode(ids) == text[:10]
    with pytest.raises(DataError, match=r"the prime has characters not in the vocabulary: "
                                        r"'w', 'ö'"):
        load_ids(path, vocab=CharVocab(text.replace("w", "").replace("ö", "")),
                 what="the prime")
    with pytest.raises(DataError, match="is empty"):
        path.write_bytes(b"")
        load_ids(path)


# ---- default corpus -------------------------------------------------------------
def test_default_corpus_is_deterministic():
    a = default_corpus(200_000)          # its speed: benchmarks/bench_data.py
    assert len(a) == 200_000
    assert a == default_corpus(200_000)
    assert default_corpus(1000) == a[:1000]
    assert "def " in a and "import " in a               # it is Python source
    assert len(CharVocab(a)) < 300


def test_default_corpus_bad_size():
    with pytest.raises(DataError, match="max_chars"):
        default_corpus(0)


# ---- splits and BPTT batches ---------------------------------------------------------
def test_split_ids_contiguous():
    ids = np.arange(100)
    train, val, test = split_ids(ids, 0.8, 0.1)
    assert (len(train), len(val), len(test)) == (80, 10, 10)
    assert np.array_equal(np.concatenate([train, val, test]), ids)
    train, val, test = split_ids(np.arange(101), 0.95, 0.05)
    assert (len(train), len(val), len(test)) == (95, 6, 0)   # no character lost


@pytest.mark.parametrize("train_frac, val_frac", [(0, 0.1), (0.9, 0.2), (1.2, 0), (0.5, -0.1)])
def test_split_ids_bad_fractions(train_frac, val_frac):
    with pytest.raises(DataError, match="train_frac"):
        split_ids(np.arange(10), train_frac, val_frac)


def test_batchify_layout():
    ids = np.arange(11)
    streams = batchify(ids, batch_size=3)
    assert streams.shape == (3, 3) and streams.dtype == np.int64
    assert np.array_equal(streams, [[0, 3, 6], [1, 4, 7], [2, 5, 8]])
    # a read-only view of the ids, not a copy: the text is stored once
    assert np.shares_memory(streams, ids) and not streams.flags.writeable
    compact = batchify(ids.astype(np.uint8), batch_size=3)
    assert compact.dtype == np.uint8 and np.array_equal(compact, streams)


def test_batchify_too_short():
    with pytest.raises(DataError, match=r"has 100 characters.*batch_size 10 x "
                                        r"\(seq_length 50 \+ 1\) = 510"):
        batchify(np.arange(100), batch_size=10, seq_length=50)
    with pytest.raises(DataError, match="1-D integer"):
        batchify(np.zeros(10), 2)


def test_bptt_batches_shift_and_cover():
    N, B, T = 23, 4, 5
    streams = batchify(np.arange(N * B), B)
    batches = list(bptt_batches(streams, T))
    assert len(batches) == num_bptt_batches(streams, T) == 5   # ceil(22 / 5)
    assert [x.shape for x, _ in batches] == [(5, 4)] * 4 + [(2, 4)]
    for x, y in batches:
        assert x.dtype == np.int64 and y.dtype == np.int64
        assert np.array_equal(y, x + 1)                     # the next character
    assert num_bptt_batches(streams, 1) == len(list(bptt_batches(streams, 1))) == 22
    inputs = np.concatenate([x for x, _ in batches])
    assert np.array_equal(inputs, streams[:-1])             # every step once, in order
    resumed = list(bptt_batches(streams, T, start=3))
    assert len(resumed) == 2 and np.array_equal(resumed[0][0], batches[3][0])
    # compact streams come out as int64 chunk by chunk, with the same values
    compact = list(bptt_batches(batchify(np.arange(N * B).astype(np.uint8), B), T))
    for (x, y), (cx, cy) in zip(batches, compact):
        assert cx.dtype == cy.dtype == np.int64
        assert np.array_equal(cx, x) and np.array_equal(cy, y)


@pytest.mark.parametrize("before, after, vocab", [
    ("abc" * 50, "abc" * 51, None),        # grew
    ("ab" * READ_CHUNK, "ab" * (READ_CHUNK + 10), None),   # grew by a piece after the count
    ("abc" * 50, "abc" * 49, None),        # shrank
    ("abc" * 50, "abz" * 50, None),        # a character the first pass did not see
    ("abc" * 50, "abz" * 50, "abc"),       # ... and not in the given vocabulary
], ids=["grew", "grew by a piece", "shrank", "new character", "new to the vocabulary"])
def test_a_file_that_changes_between_the_two_passes_is_refused(tmp_path, monkeypatch,
                                                               before, after, vocab):
    """load_ids reads the file twice (count, then encode): a file rewritten in
    between is refused in one line, never returned half-encoded."""
    path = tmp_path / "t.txt"
    path.write_text(before, encoding="utf-8")
    real, passes = textfile._read_text, []

    def rewritten_before_the_second_pass(*args, **kwargs):
        passes.append(1)
        if len(passes) == 2:
            path.write_text(after, encoding="utf-8")
        yield from real(*args, **kwargs)
    monkeypatch.setattr(textfile, "_read_text", rewritten_before_the_second_pass)
    with pytest.raises(DataError, match="changed while it was being read"):
        load_ids(path, vocab=None if vocab is None else CharVocab(vocab))
    assert len(passes) == 2


def test_fractions_may_pass_one_by_rounding_only():
    """train_frac + val_frac may exceed 1 by 1e-9 (decimal fractions that add to 1
    in exact arithmetic), and then the test part is empty; by more, it is refused."""
    ids = np.arange(100)
    train, val, test = split_ids(ids, 0.6, 0.4 + 5e-10)
    assert (len(train), len(val), len(test)) == (60, 40, 0)
    with pytest.raises(DataError, match="train_frac \\+ val_frac <= 1"):
        split_ids(ids, 0.6, 0.4 + 2e-9)


@pytest.mark.parametrize("chars", [["ab", "c"], [1], [None]], ids=["two", "int", "None"])
def test_a_vocabulary_is_of_single_characters(chars):
    with pytest.raises(DataError, match="CharVocab: expected single characters"):
        CharVocab(chars)


def test_split_ids_keeps_95_percent_for_training_and_5_for_validation_by_default():
    train, val, test = split_ids(np.arange(1000))
    assert (len(train), len(val), len(test)) == (950, 50, 0)


def test_one_training_id_is_enough_none_is_refused():
    assert len(split_ids(np.arange(10), 0.1, 0.0)[0]) == 1
    with pytest.raises(DataError, match="leaves no training data"):
        split_ids(np.arange(9), 0.1, 0.0)


@pytest.mark.parametrize("rows, seq_length, chunks", [(0, 1, 0), (0, 3, 0), (1, 1, 0),
                                                       (2, 1, 1), (7, 3, 2), (8, 3, 3)])
def test_num_bptt_batches_counts_the_chunks_bptt_batches_yields(rows, seq_length, chunks):
    streams = np.zeros((rows, 2), dtype=np.int64)
    assert num_bptt_batches(streams, seq_length) == chunks
    assert len(list(bptt_batches(streams, seq_length))) == chunks


@pytest.mark.parametrize("batch_size, seq_length", [(0, 2), (2, 0), (0, 0)])
def test_batchify_needs_a_stream_and_a_step(batch_size, seq_length):
    with pytest.raises(DataError, match="batch_size and seq_length must be >= 1"):
        batchify(np.arange(100), batch_size, seq_length)


def test_one_stream_and_one_step_are_enough():
    assert batchify(np.arange(10), 1, 1).shape == (10, 1)
    assert num_bptt_batches(batchify(np.arange(10), 1, 1), 1) == 9
    with pytest.raises(DataError, match="seq_length must be >= 1"):
        num_bptt_batches(np.zeros((10, 1)), 0)


def test_load_ids_of_a_text_read_in_several_pieces(tmp_path):
    path = tmp_path / "t.txt"
    text = "".join(chr(97 + (k * 7) % 26) for k in range(2 * READ_CHUNK + 12345))
    path.write_text(text, encoding="utf-8")
    ids, vocab = load_ids(path)
    assert vocab.decode(ids) == text


@pytest.mark.parametrize("streams", [np.zeros((10, 2)), np.zeros(10, dtype=np.int64)],
                         ids=["float", "1-D"])
def test_bptt_batches_needs_a_2d_integer_array(streams):
    with pytest.raises(DataError, match="bptt_batches"):
        list(bptt_batches(streams, 3))


def test_the_last_code_point_is_a_character_like_any_other(tmp_path):
    path = tmp_path / "t.txt"
    text = "ab\U0010ffffa"
    path.write_text(text, encoding="utf-8")
    ids, vocab = load_ids(path)
    assert vocab.decode(ids) == text and vocab.chars[-1] == "\U0010ffff"


def test_decode_refuses_negative_ids():
    vocab = CharVocab("abc")
    assert vocab.decode([0, 2]) == "ac"
    for bad in ([-1], [3], [0, -2]):
        with pytest.raises(DataError):
            vocab.decode(bad)


def test_batchify_by_default_needs_two_ids_per_stream():
    """seq_length defaults to 1: each of the B streams needs one input and one target."""
    assert batchify(np.arange(4), 2).shape == (2, 2)
    with pytest.raises(DataError):
        batchify(np.arange(3), 2)


def test_bptt_batches_start_lies_in_the_chunks():
    streams = batchify(np.arange(40), 2, 3)
    assert len(list(bptt_batches(streams, 3, start=num_bptt_batches(streams, 3)))) == 0
    for start in (-1, num_bptt_batches(streams, 3) + 1):
        with pytest.raises(DataError, match="start must lie in"):
            list(bptt_batches(streams, 3, start=start))
