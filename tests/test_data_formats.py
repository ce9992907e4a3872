"""Reading the data files: MovieLens' formats, the errors that locate a bad line, and the
synthetic generator's oracle.

Each test guards a plausible bug that a mutation run found untested (its docstring names the
module and the change). All data are tiny hand-made files, never MovieLens files.
"""

import numpy as np
import pytest

from lessons.data import DataFormatError
from lessons.data.loader import load_movielens
from tests.helpers import write_latest_small, write_ml1m

# --- movielens.py / parsing.py / indexing.py -------------------------------------------------


def test_a_year_range_title_gets_its_first_year(tmp_path):
    """Bug in movielens.py (`[^)]*` dropped from YEAR_IN_TITLE)."""
    write_latest_small(
        tmp_path,
        b"movieId,title,genres\n1,Babylon 5 (1994-1998),Sci-Fi\n",
        "1,1,4.0,1\n",
    )
    ds = load_movielens("latest-small", data_dir=tmp_path, download=False)
    assert ds.items["year"].tolist() == [1994.0]


def test_a_blank_u_genre_is_blamed_on_u_genre(tmp_path, fake_ml100k):
    """Bug in movielens.py (empty genre list accepted): the error then named u.item."""
    folder = fake_ml100k(tmp_path)
    (folder / "u.genre").write_text("\n\n", encoding="latin-1")
    with pytest.raises(DataFormatError, match="lists no genre") as info:
        load_movielens("100k", data_dir=tmp_path, download=False)
    assert info.value.path.name == "u.genre"


def test_errors_in_an_unsorted_catalogue_name_the_file_line(tmp_path, fake_ml100k):
    """Bug in movielens.py (row + 1 for lines[row]) and indexing.py (catalogue lines =
    sorted position): u.item in reverse id order, a bad flag on its first line (id 40)."""
    folder = fake_ml100k(tmp_path)
    lines = (folder / "u.item").read_text(encoding="latin-1").splitlines()[::-1]
    assert lines[0].startswith("40|")
    lines[0] = lines[0][: -len("1")] + "2"  # the last genre flag (Western) becomes 2
    (folder / "u.item").write_text("\n".join(lines) + "\n", encoding="latin-1")
    with pytest.raises(DataFormatError, match=r"u\.item, line 1: has a genre flag"):
        load_movielens("100k", data_dir=tmp_path, download=False)


def test_ml1m_negative_occupation_code_is_refused(tmp_path):
    """Bug in movielens.py (`codes < 0` dropped): -1 silently became "writer"."""
    write_ml1m(tmp_path, "1::F::1::-1::48067\n", "1::Heat (1995)::Action\n")
    with pytest.raises(DataFormatError, match=r"users\.dat, line 1: occupation code -1"):
        load_movielens("1m", data_dir=tmp_path, download=False)


def test_ml1m_movies_errors_name_the_file(tmp_path):
    """Bugs in movielens.py (a bad movies.dat line numbered off by one; an empty movies.dat
    falling through to a bare IndexError)."""
    write_ml1m(tmp_path, "1::F::1::10::48067\n", "1::Heat (1995)::Action\nnot a movie line\n")
    with pytest.raises(DataFormatError, match=r"movies\.dat, line 2: expected"):
        load_movielens("1m", data_dir=tmp_path, download=False)
    (tmp_path / "ml-1m" / "movies.dat").write_text("")
    with pytest.raises(DataFormatError) as info:
        load_movielens("1m", data_dir=tmp_path, download=False)
    assert info.value.path.name == "movies.dat"


def test_latest_small_errors_count_the_header_line(tmp_path):
    """Bug in movielens.py (the first data line of the CSVs numbered 1, not 2)."""
    write_latest_small(
        tmp_path,
        b"movieId,title,genres\n1,Heat (1995),Action\n1,Heat again (1995),Action\n",
        "1,1,4.0,1\n",
    )
    with pytest.raises(DataFormatError, match=r"movies\.csv, line 3: repeats the id 1"):
        load_movielens("latest-small", data_dir=tmp_path, download=False)
    (tmp_path / "ml-latest-small" / "movies.csv").write_text(
        "movieId,title,genres\n1,Heat (1995),Action\n"
    )
    (tmp_path / "ml-latest-small" / "ratings.csv").write_text(
        "userId,movieId,rating,timestamp\n1,1,4.0,1\n1,1,6.0,2\n"
    )
    with pytest.raises(DataFormatError, match=r"ratings\.csv, line 3: rating 6\.0 is outside"):
        load_movielens("latest-small", data_dir=tmp_path, download=False)


def test_genre_flags_are_int8_in_every_variant(tmp_path, fake_ml100k):
    """Bug in movielens.py (1m / latest-small flags left int64 while 100k's are int8)."""
    write_ml1m(tmp_path, "1::F::1::10::48067\n", "1::Heat (1995)::Action|Crime\n")
    write_latest_small(
        tmp_path, b"movieId,title,genres\n1,Heat (1995),Action|Crime\n", "1,1,4.0,1\n"
    )
    fake_ml100k(tmp_path)
    for variant in ("100k", "1m", "latest-small"):
        ds = load_movielens(variant, data_dir=tmp_path, download=False)
        assert (ds.items[list(ds.genres)].dtypes == np.int8).all(), variant


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("1\t20\t3\t200\t7", "has 5 fields, expected 4"),  # an extra field
        ("1.5\t20\t3\t200", "has user = '1.5', which is not a number"),  # not an integer id
    ],
)
def test_malformed_u_data_lines_are_located(tmp_path, fake_ml100k, line, problem):
    """Bug in parsing.py (`!=` -> `<`: extra fields not located) and parsing.py (integer
    columns checked as floats): both errors lost their line number."""
    folder = fake_ml100k(tmp_path)
    lines = (folder / "u.data").read_text(encoding="latin-1").splitlines()
    lines[2] = line
    (folder / "u.data").write_text("\n".join(lines) + "\n", encoding="latin-1")
    with pytest.raises(DataFormatError, match=rf"u\.data, line 3: {problem}"):
        load_movielens("100k", data_dir=tmp_path, download=False)


def test_a_located_format_error_does_not_chain_the_parsers_traceback(tmp_path, fake_ml100k):
    """Bug: `raise … from exc` printed 28 lines of pandas internals above the one line that
    says where the file is broken (a u.data cut mid-line)."""
    folder = fake_ml100k(tmp_path)
    data = (folder / "u.data").read_text(encoding="latin-1")
    (folder / "u.data").write_text(data[: data.index("\n", 10) + 3], encoding="latin-1")
    with pytest.raises(DataFormatError, match=r"u\.data, line 2: has \d fields") as info:
        load_movielens("100k", data_dir=tmp_path, download=False)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_an_empty_u_data_says_so(tmp_path, fake_ml100k):
    """Bug in parsing.py (empty check dropped): the message became pandas' "No columns to
    parse from file"."""
    (fake_ml100k(tmp_path) / "u.data").write_text("")
    with pytest.raises(DataFormatError, match=r"u\.data: is empty\."):
        load_movielens("100k", data_dir=tmp_path, download=False)


def test_a_repeated_id_in_a_large_catalogue_names_the_repeat(tmp_path, fake_ml100k):
    """Bug in indexing.py (argsort without kind="stable"): past a few thousand rows numpy's
    default sort is unstable, so the error named the first, legitimate line instead."""
    folder = fake_ml100k(tmp_path)
    users = [f"{i}|30|M|other|00000" for i in range(1, 3001)] + ["1500|30|M|other|00000"]
    (folder / "u.user").write_text("\n".join(users) + "\n", encoding="latin-1")
    with pytest.raises(DataFormatError, match=r"u\.user, line 3001: repeats the id 1500"):
        load_movielens("100k", data_dir=tmp_path, download=False)


def test_truth_logits_divide_the_taste_by_the_temperature():
    """Bug in planted.py (`* temperature`): at the default temperature 1 both agree, and the
    tests that vary the temperature read `affinity()`, never the oracle `logits()`."""
    from lessons.data import synthetic_movielens

    _, truth = synthetic_movielens(n_users=20, n_items=40, seed=2, temperature=0.25,
                                   return_truth=True)  # fmt: skip
    expected = np.log(truth.item_popularity)[None, :] + truth.affinity() / 0.25
    np.testing.assert_allclose(truth.logits(), expected, rtol=1e-12)
