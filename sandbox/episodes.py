"""The episode file: recorded evaluation episodes, for screening rewards before training.

One ``np.savez_compressed`` file (loadable with ``allow_pickle=False``) holds n
episodes, indexed 0..n-1:

- ``"{i}.{var}"``: state variable ``var`` of episode i at the stored steps, shape
  (T_i, *var_shape); float arrays as float32, bool and int arrays unchanged;
- ``"{i}.action"``: the actions at the stored steps, (T_i, act_dim) float32, or
  (T_i,) ints for a discrete action space;
- ``"fitness"`` float64 (n,), ``"stride"`` int64 (n,) and ``"length"`` int64 (n,):
  each episode's fitness, the stride of its stored steps (steps 0, stride,
  2 * stride, ...) and its real number of steps, so T_i = ceil(length / stride).

The evaluator writes it, the service merges files with :func:`read_episodes` and
:func:`write_episodes`, the training sandbox reads it. Only numpy is imported.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ACTION = "action"
MAX_FILE_BYTES = 64 * 1024 * 1024  # bigger files are refused
MAX_UNPACKED_BYTES = 4 * MAX_FILE_BYTES  # and so are files that unpack to more than this
_SUMMARY = ("fitness", "stride", "length")
_KINDS = frozenset("fiub")  # float, signed/unsigned int, bool


class EpisodeFileError(ValueError):
    """The episode file is malformed; the message says how."""


@dataclass
class RecordedEpisode:
    """One episode at its stored steps: every state variable and the action, (T, ...)."""

    states: dict[str, np.ndarray]
    action: np.ndarray
    fitness: float
    stride: int
    length: int

    @property
    def rows(self) -> int:
        """The number of stored steps."""
        return int(self.action.shape[0])


def stored_rows(length: int, stride: int) -> int:
    """How many steps of an episode of ``length`` steps a stride of ``stride`` keeps."""
    return -(-length // stride)


def write_episodes(path: str | Path, episodes: list[RecordedEpisode]) -> None:
    """Write ``episodes`` to ``path`` in the episode file format (replacing it atomically)."""
    arrays: dict[str, np.ndarray] = {}
    for i, episode in enumerate(episodes):
        _check_episode(i, episode)
        for name, value in episode.states.items():
            arrays[f"{i}.{name}"] = compact(value)
        arrays[f"{i}.{ACTION}"] = compact(episode.action)
    arrays["fitness"] = np.array([e.fitness for e in episodes], dtype=np.float64)
    arrays["stride"] = np.array([e.stride for e in episodes], dtype=np.int64)
    arrays["length"] = np.array([e.length for e in episodes], dtype=np.int64)
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # O_EXCL: no links
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]  # numpy stubs
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def read_episodes(path: str | Path) -> list[RecordedEpisode]:
    """The episodes of the file at ``path``.

    Raises OSError when it cannot be read and EpisodeFileError (a ValueError) when
    it is too big or malformed.
    """
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise EpisodeFileError(f"{path} is {size} bytes, more than the {MAX_FILE_BYTES} allowed")
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile as exc:
        raise EpisodeFileError(f"{path} is not an episode file (npz): {exc}") from None
    if unpacked > MAX_UNPACKED_BYTES:
        raise EpisodeFileError(
            f"{path} unpacks to {unpacked} bytes, more than the {MAX_UNPACKED_BYTES} allowed"
        )
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (ValueError, zipfile.BadZipFile) as exc:  # pickled objects, bad headers, bad CRCs
        raise EpisodeFileError(f"{path} has an unreadable array: {exc}") from None
    return _episodes_of(arrays)


def _episodes_of(arrays: dict[str, np.ndarray]) -> list[RecordedEpisode]:
    for key in _SUMMARY:
        if key not in arrays:
            raise EpisodeFileError(f"the episode file has no {key!r} array")
        if arrays[key].ndim != 1:
            raise EpisodeFileError(f"{key!r} has shape {arrays[key].shape}, expected (n,)")
    fitness, stride, length = (arrays.pop(key) for key in _SUMMARY)
    n = fitness.shape[0]
    if stride.shape[0] != n or length.shape[0] != n:
        raise EpisodeFileError(
            f"fitness, stride and length have {n}, {stride.shape[0]} and {length.shape[0]} "
            "entries; expected one per episode"
        )
    if fitness.dtype.kind != "f" or not np.isfinite(fitness).all():
        raise EpisodeFileError("fitness must be finite floats")
    if stride.dtype.kind not in "iu" or length.dtype.kind not in "iu":
        raise EpisodeFileError("stride and length must be integers")
    if n and (stride.min() < 1 or length.min() < 1):
        raise EpisodeFileError("every stride and length must be at least 1")
    per_episode: list[dict[str, np.ndarray]] = [{} for _ in range(n)]
    for key, value in arrays.items():
        index, _, name = key.partition(".")
        i = int(index) if index.isascii() and index.isdigit() else -1
        if not (0 <= i < n and name and str(i) == index):
            raise EpisodeFileError(f"unexpected array {key!r} in a file of {n} episodes")
        if value.dtype.kind not in _KINDS or value.ndim < 1:
            raise EpisodeFileError(f"{key!r} is {value.dtype} of shape {value.shape}")
        per_episode[i][name] = value
    episodes: list[RecordedEpisode] = []
    for i, found in enumerate(per_episode):
        if ACTION not in found:
            raise EpisodeFileError(f"episode {i} has no {ACTION!r}")
        action = found.pop(ACTION)
        episode = RecordedEpisode(found, action, float(fitness[i]), int(stride[i]), int(length[i]))
        _check_episode(i, episode)
        if episodes and _layout(episode) != _layout(episodes[0]):
            raise EpisodeFileError(
                f"episode {i} has variables {_layout(episode)}, episode 0 {_layout(episodes[0])}"
            )
        episodes.append(episode)
    return episodes


def _check_episode(i: int, episode: RecordedEpisode) -> None:
    if episode.stride < 1 or episode.length < 1:
        raise EpisodeFileError(
            f"episode {i}: stride {episode.stride} and length {episode.length} must be >= 1"
        )
    if not np.isfinite(episode.fitness):
        raise EpisodeFileError(f"episode {i}: fitness {episode.fitness} is not finite")
    if ACTION in episode.states:
        raise EpisodeFileError(f"episode {i}: a state variable may not be named {ACTION!r}")
    rows = stored_rows(episode.length, episode.stride)
    for name, value in (*episode.states.items(), (ACTION, episode.action)):
        if np.ndim(value) < 1 or np.shape(value)[0] != rows:
            raise EpisodeFileError(
                f"episode {i}: {name!r} has shape {np.shape(value)}, expected {rows} rows "
                f"(ceil(length {episode.length} / stride {episode.stride}))"
            )


def _layout(episode: RecordedEpisode) -> dict[str, tuple[int, ...]]:
    """Each variable's shape per step (the action's included)."""
    shapes = {name: value.shape[1:] for name, value in episode.states.items()}
    return {**dict(sorted(shapes.items())), ACTION: episode.action.shape[1:]}


def compact(value: np.ndarray) -> np.ndarray:
    """``value`` as stored: floats as float32, bool and int arrays unchanged."""
    value = np.asarray(value)
    return value.astype(np.float32) if value.dtype.kind == "f" else value
