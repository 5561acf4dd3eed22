"""Cache folders, staleness keys and package data lookup in ``scorelab.io``."""

import os

import pytest

from scorelab.io import cache_dir, files_key, package_files


def test_cache_dir_override_env_and_default(monkeypatch, tmp_path):
    assert cache_dir("molecules", tmp_path / "x") == tmp_path / "x"
    monkeypatch.setenv("SCORELAB_CACHE", str(tmp_path))
    assert cache_dir("molecules") == tmp_path / "molecules"
    monkeypatch.delenv("SCORELAB_CACHE")
    assert cache_dir("graphs").parts[-3:] == (".cache", "scorelab", "graphs")


def test_files_key_changes_with_content_mtime_and_parts(tmp_path):
    f = tmp_path / "a.csv"
    f.write_text("1\n")
    k = files_key([f], "qm9", 1)
    assert k == files_key([f], "qm9", 1) and len(k) == 16
    assert k != files_key([f], "qm9", 2)  # a new cache version
    f.write_text("12\n")  # a new size
    assert files_key([f], "qm9", 1) != k
    k2 = files_key([f], "qm9", 1)
    st = f.stat()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # same size, newer file
    assert files_key([f], "qm9", 1) != k2


def test_package_files_finds_data_and_names_what_is_missing():
    (found,) = package_files("pytest", ["__init__.py"], "pip install pytest")
    assert found.name == "__init__.py" and found.is_file()
    with pytest.raises(ValueError, match="lacks .*nope.csv.*pip install x"):
        package_files("pytest", ["nope.csv"], "pip install x")
    with pytest.raises(ValueError, match="no_such_package_xyz"):
        package_files("no_such_package_xyz", ["a"], "pip install y")
