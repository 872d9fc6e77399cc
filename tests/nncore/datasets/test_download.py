"""nncore.datasets.download: from a server on 127.0.0.1, what reaches the disk and what the user is told."""

import hashlib
import re
import threading

import pytest

from nncore.datasets import DatasetError
from nncore.datasets.download import CHUNK, download, file_digest
from nncore.datasets.mnist import FILES
from tests.conftest import FileServer


@pytest.fixture
def server():
    body = bytes(range(256)) * (3 * CHUNK // 256 + 7)  # several chunks and a partial one
    s = FileServer({"big.bin": body, "other.bin": b"x" * 10})
    s.body, s.sha256 = body, hashlib.sha256(body).hexdigest()
    yield s
    s.close()


def test_a_file_of_several_chunks_arrives_whole_in_a_new_folder(server, tmp_path):
    dest = tmp_path / "a" / "b"  # made, parents included
    path = download("big.bin", [server.url + "/ok"], dest, server.sha256)  # a mirror with or without its slash
    assert path == dest / "big.bin" and path.read_bytes() == server.body
    assert download("big.bin", [server.url + "/ok//"], tmp_path / "c", server.sha256).read_bytes() == server.body
    assert file_digest(path) == server.sha256 and file_digest(path, "md5") == hashlib.md5(server.body).hexdigest()


def test_the_file_appears_under_its_name_only_complete(server, tmp_path):
    """Half the bytes have arrived: the whole blocks among them are on disk, in a hidden .part file beside
    the target, while the server pauses; nothing is under the target's name until the file is complete."""
    done = []
    thread = threading.Thread(target=lambda: done.append(download("big.bin", [server.url + "/paused/"], tmp_path,
                                                                  server.sha256)))
    thread.start()
    whole_blocks = len(server.body) // 2 // CHUNK * CHUNK  # of the first half, which the server sends
    try:
        for _ in range(1000):  # up to 10 s for them to arrive
            parts = [p.name for p in tmp_path.iterdir()]
            if parts and (tmp_path / parts[0]).stat().st_size >= whole_blocks:
                break
            threading.Event().wait(0.01)
        assert len(parts) == 1 and re.fullmatch(r"\.big\.bin\..+\.part", parts[0])
        assert (tmp_path / parts[0]).stat().st_size == whole_blocks > 0  # streamed, not held back to the end
        assert not done and not (tmp_path / "big.bin").exists()
    finally:
        server.resume.set()
        thread.join(10)
    assert done == [tmp_path / "big.bin"] and [p.name for p in tmp_path.iterdir()] == ["big.bin"]


def test_a_wrong_file_is_refused_and_the_next_mirror_tried(server, tmp_path):
    wrong = hashlib.sha256(b"x" * 10).hexdigest()
    with pytest.raises(DatasetError) as info:
        download("other.bin", [server.url + "/ok/", server.url + "/missing/"], tmp_path, server.sha256)
    assert str(info.value) == (f"could not download other.bin: {server.url}/ok/other.bin: sha256 mismatch (got "
                               f"{wrong[:12]}..., expected {server.sha256[:12]}...); {server.url}/missing/other.bin: "
                               "Not Found")
    assert list(tmp_path.iterdir()) == []
    server.files["other.bin"] = server.body  # the second mirror serves the right bytes
    path = download("other.bin", [server.url + "/broken/", server.url + "/ok/"], tmp_path, server.sha256)
    assert path.read_bytes() == server.body
    server.files["other.bin"] = b"x" * 10
    assert download("big.bin", [server.url + "/wrong/", server.url + "/ok/"], tmp_path / "m", server.sha256).exists()


def test_an_unreachable_mirror_says_why(tmp_path):
    with pytest.raises(DatasetError, match=r"^could not download f: http://127\.0\.0\.1:9/f: \[Errno 111\] "
                                           r"Connection refused$"):
        download("f", ["http://127.0.0.1:9/"], tmp_path, "0" * 64)


def test_a_silent_server_times_out(server, tmp_path):
    with pytest.raises(DatasetError, match=r"^could not download big\.bin: .*/silent/big\.bin: .*timed out$"):
        download("big.bin", [server.url + "/silent/"], tmp_path, server.sha256, timeout=0.5)


def test_a_mirror_gets_30_seconds_by_default(server, tmp_path, monkeypatch):
    """The documented default, as urlopen receives it (MNIST's loader passes none of its own)."""
    import urllib.request

    given, urlopen = [], urllib.request.urlopen
    monkeypatch.setattr(urllib.request, "urlopen",
                        lambda url, timeout: given.append(timeout) or urlopen(url, timeout=timeout))
    download("big.bin", [server.url + "/ok/"], tmp_path, server.sha256)
    assert given == [30]


def test_a_folder_that_cannot_be_made_is_one_line(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(DatasetError, match=rf"^cannot create {re.escape(str(tmp_path / 'file' / 'd'))} \(Not a "
                                           r"directory\); set NNBENCH_DATA to a writable folder$"):
        download("f", ["http://127.0.0.1:9/"], tmp_path / "file" / "d", "0" * 64)


def test_the_progress_bar_names_the_file_and_counts_bytes(server, tmp_path, capsys):
    download("big.bin", [server.url + "/ok/"], tmp_path, server.sha256)
    err = capsys.readouterr().err
    assert len(server.body) == 198_400 and "\rbig.bin:   0%" in err and "/198k [" in err and "B/s]" in err
    assert err.endswith("\r") and err.split("\r")[-2].strip() == ""  # leave=False: the bar is wiped at the end


def test_broken_connection_falls_back_to_next_mirror(file_server, tmp_path):
    name = FILES[1]
    tmp_path = tmp_path / "dest"
    with pytest.raises(DatasetError, match="connection closed after|IncompleteRead|Incomplete"):
        download(name, [file_server.url + "/broken/"], tmp_path, file_server.sha256[name])
    assert list(tmp_path.iterdir()) == []
    path = download(name, [file_server.url + "/broken/", file_server.url + "/ok/"], tmp_path,
                    file_server.sha256[name])
    assert file_digest(path) == file_server.sha256[name]


def test_unreachable_mirror_is_one_line(tmp_path):
    with pytest.raises(DatasetError) as info:
        download(FILES[0], ["http://127.0.0.1:9/"], tmp_path, "0" * 64, timeout=2)
    assert "\n" not in str(info.value) and "127.0.0.1:9" in str(info.value)
