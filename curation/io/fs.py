"""Paths that may be local or Hadoop-style URIs (hdfs://, s3a://, file://), through pyarrow.fs.

Spark writes through Hadoop's filesystem layer; the driver-side bookkeeping (renames, the manifest,
listing inputs) goes through pyarrow.fs, which speaks the same schemes.
"""

from __future__ import annotations

import fnmatch
import glob as _glob
import os
import posixpath
from urllib.parse import urlparse

import pyarrow.fs as pafs


def is_uri(path: str) -> bool:
    return "://" in path


def resolve(path: str) -> tuple[pafs.FileSystem, str]:
    if not is_uri(path) or path.startswith("file://"):
        return pafs.LocalFileSystem(), os.path.abspath(path.removeprefix("file://"))
    uri = path.replace("s3a://", "s3://", 1).replace("s3n://", "s3://", 1)
    return pafs.FileSystem.from_uri(uri)


def join(base: str, *parts: str) -> str:
    return posixpath.join(base, *parts) if is_uri(base) else os.path.join(base, *parts)


def spark_path(path: str) -> str:
    """A path Spark/Hadoop understands (absolute for local paths, so executors agree)."""
    return path if is_uri(path) else os.path.abspath(path)


def exists(path: str) -> bool:
    fs, p = resolve(path)
    return fs.get_file_info(p).type != pafs.FileType.NotFound


def makedirs(path: str) -> None:
    fs, p = resolve(path)
    fs.create_dir(p, recursive=True)


def remove(path: str) -> None:
    fs, p = resolve(path)
    info = fs.get_file_info(p)
    if info.type == pafs.FileType.Directory:
        fs.delete_dir(p)
    elif info.type == pafs.FileType.File:
        fs.delete_file(p)


def rename(src: str, dst: str) -> None:
    """Atomic on local filesystems and HDFS; a copy+delete on object stores."""
    fs, s = resolve(src)
    _, d = resolve(dst)
    fs.move(s, d)


def read_text(path: str) -> str:
    fs, p = resolve(path)
    with fs.open_input_stream(p) as f:
        return f.read().decode("utf-8")


def write_text_atomic(path: str, text: str) -> None:
    fs, p = resolve(path)
    tmp = p + ".tmp"
    with fs.open_output_stream(tmp) as f:
        f.write(text.encode("utf-8"))
    fs.move(tmp, p)


def list_dirs(path: str) -> list[str]:
    """Immediate sub-folders of `path` (empty when it does not exist)."""
    filesystem, p = resolve(path)
    import pyarrow.fs as pafs

    try:
        infos = filesystem.get_file_info(pafs.FileSelector(p, recursive=False))
    except FileNotFoundError:
        return []
    return sorted(join(path, i.base_name) for i in infos if i.type == pafs.FileType.Directory)


def list_files(path: str, suffixes: tuple[str, ...] | None = None) -> list[str]:
    """Files under `path` (a file, a folder searched recursively, or a glob), sorted, hidden files skipped."""
    if not is_uri(path):
        matches = sorted(_glob.glob(path, recursive=True)) if any(c in path for c in "*?[") else [path]
        out: list[str] = []
        for m in matches:
            if os.path.isdir(m):
                for root, dirs, files in os.walk(m):
                    dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
                    out += [os.path.join(root, f) for f in sorted(files) if not f.startswith((".", "_"))]
            elif os.path.exists(m):
                out.append(m)
        found = [os.path.abspath(p) for p in out]
    else:
        fs, p = resolve(path)
        scheme = urlparse(path).scheme
        prefix = path[: path.index(p)] if p and p in path else f"{scheme}://"
        if any(c in p for c in "*?["):
            base = p.split("*")[0].rsplit("/", 1)[0]
            infos = fs.get_file_info(pafs.FileSelector(base, recursive=True))
            found = sorted(prefix + i.path for i in infos if i.type == pafs.FileType.File and fnmatch.fnmatch(i.path, p))
        else:
            info = fs.get_file_info(p)
            if info.type == pafs.FileType.Directory:
                infos = fs.get_file_info(pafs.FileSelector(p, recursive=True))
                found = sorted(prefix + i.path for i in infos if i.type == pafs.FileType.File
                               and not posixpath.basename(i.path).startswith((".", "_")))
            else:
                found = [path] if info.type == pafs.FileType.File else []
    if suffixes:
        found = [f for f in found if f.lower().endswith(suffixes)]
    return found


def file_size(path: str) -> int:
    fs, p = resolve(path)
    return fs.get_file_info(p).size or 0


def open_input(path: str):
    fs, p = resolve(path)
    return fs.open_input_stream(p)
